"""Rule SQL runs behind two walls: ``where:`` is checked as a pure expression (located
errors), and the connection an evaluation runs on cannot read or write other files, attach
databases, load extensions or change settings (DuckDB's own sandbox)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.store.duck import DuckStore

AUDIT = str(Path(sys.executable).parent / "audit")
CAPTURE = Path(__file__).resolve().parents[2] / "data" / "captures" / "celery" / "traces.jsonl"


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/auditor-sandbox-escape.csv'",
        "ATTACH '/tmp/auditor-sandbox-other.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
    ],
)
def test_after_an_evaluation_its_connection_reaches_nothing_but_its_store(
    statement: str, tmp_path: Path
) -> None:
    with DuckStore(tmp_path / "s.duckdb") as store:
        evaluate(store.con, load_catalog())
        with pytest.raises(duckdb.Error) as refused:
            store.con.execute(statement)
        # refused by the sandbox, not for another reason (a missing file, no network)
        assert type(refused.value).__name__ in ("PermissionException", "InvalidInputException")
        assert any(w in str(refused.value) for w in ("disabled", "locked")), refused.value
        # the store itself still works: findings and spans are written and read
        store.con.execute("SELECT count(*) FROM findings").fetchall()
    assert not Path("/tmp/auditor-sandbox-escape.csv").exists()


@pytest.mark.parametrize(
    "where",
    [
        "read_text('/etc/passwd') <> ''",
        "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
        "getenv('HOME') <> ''",
    ],
)
def test_a_rule_that_tries_is_refused_with_its_location_in_lint_and_scan(
    where: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: sneaky\n    severity: high\n"
        f'    jobs: {{system: celery, where: "{where}"}}\n'
        "    expect: {effect: email.sent}\n"
    )
    for argv in (["rules", "lint", str(rules)], ["scan", str(CAPTURE), "--rules", str(rules)]):
        done = subprocess.run([AUDIT, *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert f"{rules}:4:" in done.stderr
