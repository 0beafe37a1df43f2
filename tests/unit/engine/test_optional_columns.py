"""An evaluation derives the optional columns of job_runs, enqueues and effects (attributes,
links, …) only when one of its rules reads them. Every rule must still bind and find exactly
what it finds with every column derived: each rule alone, so that no other rule's columns
hide a column it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.engine import evaluate as engine
from auditor.engine.catalog import load_catalog
from auditor.rules.compiler import optional_columns
from auditor.rules.model import Rule
from auditor.tables import OPTIONAL_COLUMNS
from tests.unit.engine.scanning import FIXTURES, capture, store_with_spans

ROOT = Path(__file__).resolve().parents[3]
RULE_FILES = [
    FIXTURES / "compiler" / "representative.yaml",
    ROOT / "rules" / "examples" / "email.yaml",
    ROOT / "bench" / "scan" / "rules.yaml",
]
CATALOG = load_catalog(RULE_FILES)
EVERY_COLUMN = frozenset(
    (table, column) for table, columns in OPTIONAL_COLUMNS.items() for column in columns
)


def _found(store: object, rule: Rule) -> set[tuple]:
    evaluation = engine.evaluate(store.con, CATALOG, rules=[rule])  # type: ignore[attr-defined]
    return {(f.rule_id, f.kind, f.job_id, f.effect_key, f.evidence) for f in evaluation.findings}


@pytest.fixture(scope="module")
def store():  # type: ignore[no-untyped-def]
    with store_with_spans(files=[capture(s) for s in ("celery", "rq", "bullmq")]) as s:
        yield s


@pytest.mark.parametrize("rule", list(CATALOG.rules.rules), ids=lambda r: r.id)
def test_a_rule_finds_the_same_with_only_the_columns_it_reads(
    rule: Rule, store: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    pruned = _found(store, rule)
    monkeypatch.setattr(engine, "optional_columns", lambda _: EVERY_COLUMN)
    assert pruned == _found(store, rule)


def test_the_columns_a_rule_reads_follow_its_selectors_and_correlation() -> None:
    rules = {r.id: r for r in CATALOG.rules.rules}
    assert optional_columns(rules["by-trace"]) == frozenset()
    assert optional_columns(rules["by-link"]) == {
        ("job_runs", "link_trace_ids"), ("effects", "link_trace_ids"),
    }  # fmt: skip
    # zeta.tenant is no job_runs column: read from the attributes of runs (and enqueues)
    assert ("job_runs", "attributes") in optional_columns(rules["by-key-default"])
