"""``at_most_once``: a key confirmed by two spans is a duplicate; one confirmation that two
attempts of a job both see (they share the trace) is not. The check finds the repeated keys
with plain aggregates (least and greatest span id) before its DISTINCT ones: both must agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from tests.unit.engine.scanning import store_with_spans

RULES = """
rules:
  - id: email-once
    severity: high
    jobs: {system: arq}
    expect: {effect: email.sent}
    checks: [at_most_once]
"""


def _attempt(job: str, trace: str, span: str, attempt: int, start: int) -> dict[str, Any]:
    return {"trace": trace, "span": span, "name": "send", "kind": "consumer",
            "start": f"{start}ms", "end": f"{start + 50}ms",
            "attributes": {"job.system": "arq", "job.id": job, "job.name": "send",
                           "job.attempt": attempt, "job.outcome": "done"}}  # fmt: skip


def _confirm(trace: str, span: str, parent: str, key: str, start: int) -> dict[str, Any]:
    return {"trace": trace, "span": span, "parent": parent, "name": "side_effect.confirm",
            "kind": "internal", "start": f"{start}ms", "end": f"{start + 5}ms",
            "attributes": {"side_effect.name": "email.sent", "side_effect.key": key}}  # fmt: skip


SPANS = [
    # a: two attempts in one trace, one confirmation: each attempt sees the same span
    _attempt("a", "ta", "a1", 1, 0), _attempt("a", "ta", "a2", 2, 100),
    _confirm("ta", "a2-c", "a2", "ORD-A", 120),
    # b: two attempts, each confirms the same key: the email went out twice
    _attempt("b", "tb", "b1", 1, 0), _attempt("b", "tb", "b2", 2, 100),
    _confirm("tb", "b1-c", "b1", "ORD-B", 20), _confirm("tb", "b2-c", "b2", "ORD-B", 120),
    # c: one attempt, two keys once each
    _attempt("c", "tc", "c1", 1, 0),
    _confirm("tc", "c1-c", "c1", "ORD-C1", 10), _confirm("tc", "c1-d", "c1", "ORD-C2", 20),
]  # fmt: skip


def test_a_key_is_repeated_when_two_spans_confirm_it_not_when_two_runs_see_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    catalog = load_catalog([tmp_path / "rules.yaml"], packs=False)
    with store_with_spans(SPANS) as store:
        findings = evaluate(store.con, catalog, evidence=True).findings

    (duplicate,) = findings
    assert (duplicate.kind, duplicate.job_id, duplicate.effect_key) == (
        "duplicate_effect", "b", "ORD-B",
    )  # fmt: skip
    assert "2" in duplicate.message
    assert sorted(e.role for e in duplicate.evidence) == ["effect", "effect"]
