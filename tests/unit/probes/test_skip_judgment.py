"""How the built-in profiles and packs judge ``side_effect.skip`` (``probes.guard``): the run
that skipped an effect done before is credited with it, and the skip is never a repeat.

The attempts here are in separate traces, as arq's are (no headers): without the skip span, a
retry that correctly did nothing would have no proof of its own and be ``unconfirmed_done``.
"""

from __future__ import annotations

from typing import Any

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from tests.unit.engine.scanning import store_with_spans


def _run(job: str, trace: str, attempt: int, outcome: str, start: int) -> dict[str, Any]:
    span: dict[str, Any] = {
        "trace": trace, "span": f"{trace}-run", "name": "process shop", "kind": "consumer",
        "start": f"{start}ms", "end": f"{start + 50}ms",
        "attributes": {"job.system": "arq", "job.id": job, "job.name": "send_receipt",
                       "job.attempt": attempt, "job.outcome": outcome,
                       "job.expected_effects": ["email.sent"]},
    }  # fmt: skip
    if outcome == "done":
        span["events"] = [{"name": "job.done", "at": f"{start + 40}ms"}]
    return span


def _effect(name: str, job: str, trace: str, key: str, start: int, n: int = 0) -> dict[str, Any]:
    attributes = {"side_effect.name": "email.sent", "side_effect.key": key, "job.id": job,
                  "job.system": "arq"}  # fmt: skip
    if name == "side_effect.confirm":
        attributes["side_effect.status"] = "ok"
    else:
        attributes["side_effect.reason"] = "already_done"
    return {
        "trace": trace, "span": f"{trace}-e{n}", "parent": f"{trace}-run", "name": name,
        "kind": "internal", "start": f"{start + 10}ms", "end": f"{start + 20}ms",
        "attributes": attributes,
    }  # fmt: skip


def confirm(job: str, trace: str, key: str, start: int) -> dict[str, Any]:
    return _effect("side_effect.confirm", job, trace, key, start)


def skip(job: str, trace: str, key: str, start: int, n: int = 0) -> dict[str, Any]:
    return _effect("side_effect.skip", job, trace, key, start, n)


SPANS = [
    # guarded: attempt 1 sends and fails after, attempt 2 (another trace) skips
    _run("guarded", "g1", 1, "retry", 0), confirm("guarded", "g1", "ORD-G", 0),
    _run("guarded", "g2", 2, "done", 100), skip("guarded", "g2", "ORD-G", 100),
    # unguarded: attempt 2 sends again
    _run("unguarded", "u1", 1, "retry", 0), confirm("unguarded", "u1", "ORD-U", 0),
    _run("unguarded", "u2", 2, "done", 100), confirm("unguarded", "u2", "ORD-U", 100),
    # silent: attempt 2 neither sends nor says it skipped
    _run("silent", "s1", 1, "retry", 0), confirm("silent", "s1", "ORD-S", 0),
    _run("silent", "s2", 2, "done", 100),
    # two jobs for one order: the second (waiting for the first) skips, twice over retries
    _run("first", "f1", 1, "done", 0), confirm("first", "f1", "ORD-R", 0),
    _run("second", "r1", 1, "done", 100),
    skip("second", "r1", "ORD-R", 100, 0), skip("second", "r1", "ORD-R", 110, 1),
]  # fmt: skip


def test_a_skip_proves_the_effect_for_its_run_and_is_never_a_duplicate() -> None:
    with store_with_spans(SPANS) as store:
        findings = evaluate(store.con, load_catalog()).findings
    found = {(f.job_id, f.kind) for f in findings}
    assert found == {("unguarded", "duplicate_effect"), ("silent", "unconfirmed_done")}


def test_a_skip_without_an_earlier_confirmation_is_still_no_duplicate() -> None:
    # skips only (the confirmation was in spans this scan does not hold): honest, not repeated
    spans = [_run("late", "l1", 1, "done", 0), skip("late", "l1", "ORD-L", 0, 0),
             skip("late", "l1", "ORD-L", 5, 1)]  # fmt: skip
    with store_with_spans(spans) as store:
        findings = evaluate(store.con, load_catalog()).findings
    assert findings == []
