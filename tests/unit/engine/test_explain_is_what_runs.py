"""``audit rules explain ID`` prints the statement the engine executes for the rule in
``audit scan``, and the shared effects table it reads: the statements are recorded as the
engine sends them to DuckDB (a connection that notes every ``execute``) during an
evaluation of the same rules, and each statement explain prints, parsed, is one of them (or
the query whose rows one of them appends to the engine's candidates table) with the same
parameters.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import duckdb
import pytest
import sqlglot

from auditor.cli.main import main
from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from tests.unit.engine.scanning import FIXTURES, SCAN_RULES, capture, store_with_spans

CATALOGS = {
    "representative-with-packs": ([FIXTURES / "compiler" / "representative.yaml"], True),
    "design-with-packs": ([SCAN_RULES / "celery-design.yaml"], True),
    "checks-without-packs": ([SCAN_RULES / "celery-checks.yaml"], False),
}


class Recording:
    """A DuckDB connection that notes each statement executed on it, with its parameters."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.executed: list[tuple[str, Any]] = []

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        self.executed.append((sql, params))
        return self.con.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def _tree(sql: str) -> sqlglot.exp.Expression:
    """The statement ``sql`` runs; for the engine's ``INSERT INTO audit_candidates SELECT
    index, * FROM (statement)``, which appends a rule's rows to one table, that statement."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if isinstance(tree, sqlglot.exp.Insert) and tree.this.name == "audit_candidates":
        source = tree.expression.args["from_"].this
        assert isinstance(source, sqlglot.exp.Subquery)
        return source.this
    return tree


@cache
def _executed(catalog: str) -> list[tuple[str, Any]]:
    """The statements an evaluation of the catalog's enabled rules executed."""
    paths, packs = CATALOGS[catalog]
    with store_with_spans(files=[capture("celery")]) as store:
        recording = Recording(store.con)
        evaluate(recording, load_catalog(paths, packs=packs), evidence=False)  # type: ignore[arg-type]
        return recording.executed


def _explained(rule_id: str, catalog: str, capsys: pytest.CaptureFixture[str]) -> str:
    paths, packs = CATALOGS[catalog]
    args = ["rules", "explain", rule_id, *[a for p in paths for a in ("--rules", str(p))]]
    assert main([*args, "--packs" if packs else "--no-packs"]) == 0
    return capsys.readouterr().out


def _statements(out: str) -> list[tuple[str, str]]:
    """(the comment line just before it, statement) of each statement explain printed."""
    found: list[tuple[str, str]] = []
    comment, lines = "", []
    for line in out.splitlines():
        if line.startswith("--"):
            comment = line
        elif line.strip():
            lines.append(line)
            if line.endswith(";"):
                found.append((comment, "\n".join(lines)[:-1]))
                lines = []
    return found


def _rule_ids(catalog: str) -> list[str]:
    paths, packs = CATALOGS[catalog]
    return [r.id for r in load_catalog(paths, packs=packs).enabled_rules()]


@pytest.mark.parametrize(
    ("catalog", "rule_id"), [(c, r) for c in sorted(CATALOGS) for r in _rule_ids(c)]
)
def test_explain_prints_the_statements_the_engine_executes_for_the_rule(
    catalog: str, rule_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    executed = _executed(catalog)
    printed = _statements(_explained(rule_id, catalog, capsys))
    assert printed, "explain printed no statement"
    # the rule's own statement is printed last
    assert "every check at once" in printed[-1][0]
    for comment, sql in printed:
        assert any(_tree(s) == _tree(sql) and _shows(comment, params) for s, params in executed), (
            f"not executed: {comment}\n{sql[:300]}"
        )


def _shows(comment: str, params: Any) -> bool:
    """Does explain's comment line show exactly these parameters?"""
    if isinstance(params, dict):  # $p1 … by name
        shown = ", ".join(f"${key} = {value!r}" for key, value in params.items())
        return comment.endswith(f"parameters: {shown}") if shown else "parameters" not in comment
    if params:  # ? in order
        return comment.endswith("in order: " + ", ".join(repr(v) for v in params))
    return "parameters" not in comment


def test_a_rule_sharing_its_effects_prints_the_table_and_reads_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _explained("side-effects-at-most-once", "design-with-packs", capsys)

    (table, statement) = _statements(out)
    assert "made once for it and failed-effects-not-swallowed" in table[0]
    name = re.findall(r'TEMP TABLE "(shared_effects_\d+)"', table[1])
    assert name and re.search(rf'FROM "?{name[0]}"?\s', statement[1])
