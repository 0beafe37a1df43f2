"""The findings table the engine makes in SQL: its JSON texts equal ``Finding.to_dict()`` of
the same finding, and its messages say what the reference words say."""

from __future__ import annotations

import json

import pytest

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.findings.model import Kind
from tests.unit.engine.reference_messages import message
from tests.unit.engine.scanning import SCAN_RULES, SYSTEMS, capture, store_with_spans


@pytest.fixture(scope="module", params=SYSTEMS)
def evaluation(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    system = request.param
    catalog = load_catalog(
        [SCAN_RULES / f"{system}-checks.yaml", SCAN_RULES / f"{system}-design.yaml"]
    )
    with store_with_spans(files=[capture(system)]) as store:
        return evaluate(store.con, catalog, as_of_ns=None)


def test_every_finding_of_a_real_capture_has_evidence_and_a_fingerprint(evaluation) -> None:  # type: ignore[no-untyped-def]
    assert len(evaluation.findings) >= 4
    for f in evaluation.findings:
        assert len(f.fingerprint) == 20
        assert f.evidence, f
        assert f.evidence[0].role in ("job_run", "enqueue", "effect")


def test_the_json_text_of_each_row_is_the_finding_as_a_dict(evaluation) -> None:  # type: ignore[no-untyped-def]
    texts = evaluation.findings.table.column("json").to_pylist()
    for text, finding in zip(texts, evaluation.findings, strict=True):
        assert json.loads(text) == json.loads(json.dumps(finding.to_dict()))


def test_messages_say_what_the_reference_words_say(evaluation) -> None:  # type: ignore[no-untyped-def]
    table = evaluation.findings.table
    for f in evaluation.findings:
        detail = None
        if f.kind is Kind.DUPLICATE_EFFECT:
            detail = sum(1 for e in f.evidence if e.role == "effect")
        if f.kind is Kind.PREMATURE_DONE:
            continue  # the gap is not a column; checked below on spans made for it
        note = ""
        if f.kind is Kind.FAILED_EFFECT:
            note = f.message.split("a span under it failed", 1)[1].removeprefix(": ")
        assert f.message == message(
            f.kind, system=f.system, job_name=f.job_name, job_id=f.job_id,
            effect_name=f.effect_name, effect_key=f.effect_key, detail_ns=detail, note=note,
            signals="",
        ) or f.kind is Kind.LOST_JOB, f  # fmt: skip
    assert table.num_rows == len(evaluation.findings)


@pytest.mark.parametrize("gap_ms", [0.0004, 0.5, 3.25, 999.96, 1500.0, 12_345.678])
def test_a_premature_done_says_how_early_in_the_reference_words(gap_ms: float) -> None:
    end = f"{(50 + gap_ms) / 1000:.9f}s"
    spans = [
        {"trace": "t", "span": "run", "name": "process", "kind": "consumer", "start": "0ms",
         "end": "100ms",
         "attributes": {"job.system": "arq", "job.id": "a-very-long-job-identifier",
                        "job.name": "mail", "job.expected_effects": "email.sent"},
         "events": [{"name": "job.done", "at": "50ms"}]},
        {"trace": "t", "span": "c", "parent": "run", "name": "side_effect.confirm",
         "start": "10ms", "end": end,
         "attributes": {"side_effect.name": "email.sent", "side_effect.key": "K-1",
                        "job.id": "a-very-long-job-identifier", "job.system": "arq"}},
    ]  # fmt: skip
    with store_with_spans(spans) as store:
        evaluation = evaluate(store.con, load_catalog(), as_of_ns=None)
    premature = [f for f in evaluation.findings if f.kind is Kind.PREMATURE_DONE]
    if gap_ms < 2:  # inside the default tolerance (2 ms): honest
        assert premature == []
        return
    [f] = premature
    [effect] = [e for e in f.evidence if e.role == "effect"]
    assert effect.end_ns is not None and f.done_at_ns is not None
    assert abs(effect.end_ns - f.done_at_ns - gap_ms * 1e6) < 2
    assert f.message == message(
        f.kind, system="arq", job_name="mail", job_id="a-very-long-job-identifier",
        effect_name="email.sent", effect_key="K-1", detail_ns=effect.end_ns - f.done_at_ns,
    )  # fmt: skip
