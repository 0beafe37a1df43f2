"""The finding value: evidence is attached by copy, the original stays as it was."""

from __future__ import annotations

from dataclasses import replace

from auditor.findings.model import Finding, Kind, Severity, SpanRef, State


def test_with_evidence_is_replace_and_leaves_the_original_alone() -> None:
    finding = Finding(
        rule_id="r", kind=Kind.UNCONFIRMED_DONE, severity=Severity.HIGH, state=State.OPEN,
        system="celery", job_id="j1", job_name="shop.send", effect_key="", trace_id="t1",
        span_id="s1", message="shop.send was marked done…",
    )  # fmt: skip
    evidence = (SpanRef(role="job_run", trace_id="t1", span_id="s1", name="run/shop.send"),)

    attached = finding.with_evidence(evidence)

    assert attached == replace(finding, evidence=evidence)
    assert attached.fingerprint == finding.fingerprint
    assert finding.evidence == ()
    assert attached is not finding
