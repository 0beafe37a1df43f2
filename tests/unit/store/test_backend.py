"""``--backend`` URLs: what each form names, and the errors a person gets for the others.

The ClickHouse drivers are an optional extra: these tests hide them from the process they
start (``sys.modules[...] = None`` makes their import fail as if they were not installed),
because the checkout's virtualenv may have them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditor.errors import ConfigError, UsageError
from auditor.store.backend import Backend, parse_backend

REPO = Path(__file__).resolve().parents[3]
CAPTURE = REPO / "tests" / "data" / "captures" / "celery" / "traces.jsonl"


def test_a_plain_path_and_a_duckdb_url_name_a_duckdb_store_file():
    assert parse_backend("auditor.duckdb") == Backend("duckdb", path="auditor.duckdb")
    assert parse_backend("duckdb:///var/lib/a.duckdb") == Backend(
        "duckdb", path="/var/lib/a.duckdb"
    )
    assert not parse_backend("duckdb:///a.duckdb").is_clickhouse


def test_a_chdb_url_names_a_folder():
    backend = parse_backend("chdb:///tmp/spans")
    assert backend == Backend("chdb", path="/tmp/spans")
    assert backend.is_clickhouse
    assert str(backend) == "chdb:///tmp/spans"


def test_a_clickhouse_url_has_defaults_for_port_database_and_user():
    backend = parse_backend("clickhouse://ch.internal")
    assert (backend.host, backend.port, backend.database, backend.user) == (
        "ch.internal",
        8123,
        "default",
        "default",
    )
    secure = parse_backend("clickhouses://auditor:s3cret@ch.internal/otel")
    assert (secure.port, secure.database, secure.user, secure.password) == (
        8443,
        "otel",
        "auditor",
        "s3cret",
    )
    assert secure.secure


def test_a_password_never_shows_in_the_url_as_printed():
    backend = parse_backend("clickhouse://auditor:s3cret@ch.internal:9123/otel")
    assert str(backend) == "clickhouse://auditor@ch.internal:9123/otel"
    with pytest.raises(UsageError) as caught:
        parse_backend("clickhouse://auditor:s3cret@ch.internal:notaport/otel")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://h/db", "unknown kind of store 'postgres'"),
        ("chdb://", "needs a path to its folder"),
        ("duckdb://", "needs a path to its store file"),
        ("clickhouse:///db", "no host"),
        ("clickhouse://h/a/b", "is not a database name"),
        ("clickhouse://h/db?x=1", "no ?options"),
        ("", "--backend is empty"),
    ],
)
def test_a_bad_url_is_a_usage_error_that_says_why(url, says):
    with pytest.raises(UsageError, match=None) as caught:
        parse_backend(url)
    assert says in str(caught.value)


def test_serve_refuses_a_clickhouse_store_and_says_what_is_missing():
    from auditor.config import serve_store_path

    assert serve_store_path("duckdb:///x/a.duckdb", "--backend") == "/x/a.duckdb"
    with pytest.raises(ConfigError) as caught:
        serve_store_path("clickhouse://h:8123/otel", "--backend")
    assert "serving over ClickHouse is not built yet" in str(caught.value)


def _audit_without_clickhouse_drivers(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; sys.modules['chdb'] = None; sys.modules['clickhouse_connect'] = None; "
        "from auditor.cli.main import main; sys.argv = ['audit', *sys.argv[1:]]; sys.exit(main())"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "--backend", "chdb:///nowhere/spans"),
        ("ingest", str(CAPTURE), "--backend", "chdb:///nowhere/spans"),
        ("scan", "--backend", "clickhouse://127.0.0.1:1/otel"),
    ],
)
def test_a_clickhouse_backend_without_the_extra_is_a_clear_usage_error(args, tmp_path):
    done = _audit_without_clickhouse_drivers(*args)
    assert done.returncode == 2, done.stderr
    assert "pip install 'auditor[clickhouse]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path("/nowhere/spans").exists()


def test_importing_the_cli_loads_no_clickhouse_driver():
    code = (
        "import sys, auditor.cli.main, auditor.engine.scan, auditor.cli.ingest; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('chdb', 'clickhouse_connect')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_scan_takes_db_or_backend_not_both(tmp_path):
    done = _audit_without_clickhouse_drivers(
        "scan", "--db", str(tmp_path / "a.duckdb"), "--backend", "chdb:///x"
    )
    assert done.returncode == 2
    assert "not both" in done.stderr


def test_the_store_variable_takes_a_duckdb_url_and_refuses_a_clickhouse_one(tmp_path):
    from auditor.config import load_settings

    settings = load_settings(None, environ={"AUDIT_STORE": f"duckdb://{tmp_path}/a.duckdb"})
    assert settings.store == tmp_path / "a.duckdb"
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"AUDIT_STORE": "chdb:///x"})
    assert "AUDIT_STORE chdb:///x" in str(caught.value)


def test_the_store_key_of_audit_yaml_refuses_a_clickhouse_url(tmp_path):
    from auditor.config import load_settings

    config = tmp_path / "audit.yaml"
    config.write_text("store: clickhouse://ch:8123/otel\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert "serving over ClickHouse is not built yet" in str(caught.value)
