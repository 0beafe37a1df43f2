"""``audit serve``'s settings: defaults ← ``audit.yaml`` ← ``AUDIT_*`` ← flags, one type.

Each test builds the settings the way ``audit serve`` does (``load_settings``), with its own
environment (never the test process's) and a working directory of its own, so that an
``audit.yaml`` lying around is never read by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.config import (
    CONFIG_SCHEMA,
    DEFAULTS,
    Settings,
    default_text,
    flag_help,
    load_settings,
    sources,
)
from auditor.errors import ConfigError

AUDIT = str(Path(sys.executable).with_name("audit"))

FULL_FILE = """\
store: file.duckdb
rules: [file-rules]
receivers:
  host: 10.0.0.1
  http_port: 14318
  grpc_port: 14317
  max_body_size: 1024
  max_pending_spans: 99
  decode_workers: 3
evaluation:
  interval: 1m
  grace: 2m
alerts:
  - {sink: webhook, url: "https://hooks.example/${HOOK_TOKEN}", min_severity: high}
"""

ENV = {
    "AUDIT_STORE": "env.duckdb",
    "AUDIT_RULES": os.pathsep.join(["env-a", "env-b"]),
    "AUDIT_HOST": "10.0.0.2",
    "AUDIT_HTTP_PORT": "24318",
    "AUDIT_GRPC_PORT": "24317",
    "AUDIT_EVALUATION_INTERVAL": "30s",
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no ./audit.yaml unless the test writes one)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _file(folder: Path, text: str = FULL_FILE) -> Path:
    path = folder / "conf" / "audit.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_without_file_environment_or_flags_the_defaults_apply(here: Path) -> None:
    settings = load_settings(environ={})
    assert settings == Settings()
    assert (settings.store, settings.host, settings.http_port, settings.grpc_port) == (
        Path("auditor.duckdb"), "127.0.0.1", 4318, 4317,
    )  # fmt: skip
    assert (settings.evaluation_interval_s, settings.grace_s, settings.rules) == (10.0, 300.0, ())


def test_the_file_overrides_every_default_and_its_paths_are_relative_to_it(here: Path) -> None:
    path = _file(here)
    settings = load_settings(path, environ={"HOOK_TOKEN": "s3cret"})
    assert settings.source == str(path)
    assert settings.store == path.parent / "file.duckdb"
    assert settings.rules == (path.parent / "file-rules",)
    assert (settings.host, settings.http_port, settings.grpc_port) == ("10.0.0.1", 14318, 14317)
    assert (settings.max_body_size, settings.max_pending_spans, settings.decode_workers) == (
        1024, 99, 3,
    )  # fmt: skip
    assert (settings.evaluation_interval_s, settings.grace_s) == (60.0, 120.0)
    assert settings.alerts == (
        {"sink": "webhook", "url": "https://hooks.example/s3cret", "min_severity": "high"},
    )


def test_audit_yaml_in_the_working_directory_is_read_without_config(here: Path) -> None:
    (here / "audit.yaml").write_text("receivers: {host: 10.9.9.9}\n", encoding="utf-8")
    settings = load_settings(environ={})
    assert settings.host == "10.9.9.9"
    assert settings.source == "audit.yaml"


def test_the_environment_overrides_the_file(here: Path) -> None:
    settings = load_settings(_file(here), environ={**ENV, "HOOK_TOKEN": "x"})
    assert settings.store == Path("env.duckdb")
    assert settings.rules == (Path("env-a"), Path("env-b"))  # AUDIT_RULES replaces the file's
    assert (settings.host, settings.http_port, settings.grpc_port) == ("10.0.0.2", 24318, 24317)
    assert settings.evaluation_interval_s == 30.0
    assert settings.max_pending_spans == 99  # no variable for it: the file's value stays


def test_flags_override_the_environment_and_rules_add_to_it(here: Path) -> None:
    settings = load_settings(
        _file(here),
        environ={**ENV, "HOOK_TOKEN": "x"},
        store=Path("flag.duckdb"),
        host="10.0.0.3",
        http_port=0,
        grpc_port=0,
        rules=[Path("flag-rules")],
        max_pending_spans=7,
        decode_workers=0,
        evaluation_interval_s="0",
    )
    assert settings.store == Path("flag.duckdb")
    assert (settings.host, settings.http_port, settings.grpc_port) == ("10.0.0.3", 0, 0)
    assert settings.rules == (Path("env-a"), Path("env-b"), Path("flag-rules"))
    assert (settings.max_pending_spans, settings.decode_workers) == (7, 0)
    assert settings.evaluation_interval_s == 0.0


def test_flags_not_given_leave_the_lower_layers_alone(here: Path) -> None:
    settings = load_settings(environ={"AUDIT_HOST": "10.0.0.4"}, host=None, rules=[])
    assert settings.host == "10.0.0.4"
    assert settings.rules == ()


def test_an_empty_variable_counts_as_unset(here: Path) -> None:
    assert load_settings(environ={"AUDIT_STORE": "", "AUDIT_HTTP_PORT": ""}) == Settings()


def test_a_variable_that_is_not_a_number_is_a_config_error(here: Path) -> None:
    with pytest.raises(ConfigError, match=r"AUDIT_HTTP_PORT='http' is not a number"):
        load_settings(environ={"AUDIT_HTTP_PORT": "http"})


def test_a_bad_duration_names_where_it_was_written(here: Path) -> None:
    with pytest.raises(ConfigError, match="AUDIT_EVALUATION_INTERVAL must be a duration"):
        load_settings(environ={"AUDIT_EVALUATION_INTERVAL": "soon"})
    with pytest.raises(ConfigError, match="--evaluation-interval must be a duration"):
        load_settings(environ={}, evaluation_interval_s="soon")


def test_every_problem_of_the_file_is_reported_with_its_location(here: Path) -> None:
    path = _file(here, "receivers:\n  http_prot: 1\nevaluation: {interval: soon}\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ={})
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:2:3: ") and "did you mean 'http_port'" in lines[0]
    assert lines[1].startswith(f"{path}:3:")


def test_a_missing_secret_variable_is_reported_at_its_value(here: Path) -> None:
    path = _file(here)
    with pytest.raises(ConfigError, match=r"audit.yaml:14:\d+: environment variable HOOK_TOKEN"):
        load_settings(path, environ={})


def test_every_key_of_the_file_schema_is_a_setting_and_back() -> None:
    """A key the schema accepts but no setting reads would be ignored without a word."""
    schema_keys = set()
    for key, spec in CONFIG_SCHEMA["properties"].items():
        nested = spec.get("properties") if spec.get("type") == "object" else None
        schema_keys |= {f"{key}.{sub}" for sub in nested} if nested else {key}
    assert schema_keys == {source.key for _, source in sources() if source.key}


def test_help_and_docs_read_the_defaults_of_the_settings_type() -> None:
    assert default_text("store") == str(DEFAULTS.store)
    assert default_text("evaluation_interval_s") == "10s"
    assert flag_help("host") == (
        "Address to listen on.  [default: 127.0.0.1; env var: AUDIT_HOST; "
        "audit.yaml: receivers.host]"
    )


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULTS.host = "0.0.0.0"  # type: ignore[misc]


def test_serve_refuses_a_broken_file_before_it_listens(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text("receivers: {http_port: many}\n", encoding="utf-8")
    done = subprocess.run(
        [AUDIT, "serve", "--config", str(config), "--db", str(tmp_path / "s.duckdb")],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{config}:1:24: " in done.stderr
    assert not (tmp_path / "s.duckdb").exists()


def test_the_token_comes_from_the_file_the_environment_or_the_flag_and_never_shows(
    here: Path,
) -> None:
    path = _file(here, "token: ${SERVE_TOKEN}\n")
    assert load_settings(path, environ={"SERVE_TOKEN": "from-file"}).token == "from-file"
    both = {"SERVE_TOKEN": "from-file", "AUDIT_TOKEN": "from-env"}
    assert load_settings(path, environ=both).token == "from-env"
    settings = load_settings(path, environ=both, token="from-flag")
    assert settings.token == "from-flag"
    assert "from-flag" not in repr(settings)
    assert load_settings(environ={"AUDIT_TOKEN": ""}).token is None  # empty: no token
    with pytest.raises(ConfigError, match="token"):
        load_settings(_file(here, "token: ''\n"), environ={})
