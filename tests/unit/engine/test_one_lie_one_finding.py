"""One lie is one finding: a built-in pack rule that reports a lie a user rule already reports
is dropped (``auditor.engine.evaluate``), whatever span the user rule chose as the effect."""

from __future__ import annotations

from collections import Counter

from tests.unit.engine.scanning import SCAN_RULES, capture, ground_truth, scan_once


def test_a_user_rule_on_the_design_example_and_the_packs_report_each_lie_once() -> None:
    result = scan_once(["--rules", SCAN_RULES / "celery-design.yaml", capture("celery")])

    counts = Counter((f["job_id"], f["kind"]) for f in result.findings)
    assert set(counts) == ground_truth("celery")
    assert set(counts.values()) == {1}


def test_a_user_rule_on_the_smtp_span_and_the_packs_report_the_repeated_email_once() -> None:
    # The retried Celery job sent order ORD-1007's email twice: the user rule sees two
    # smtp.send spans with side_effect.key ORD-1007, the side-effects-at-most-once pack two
    # side_effect.confirm spans with the same key. Same job, same key, same lie.
    result = scan_once(["--rules", SCAN_RULES / "celery-span.yaml", capture("celery")])

    duplicates = [f for f in result.findings if f["kind"] == "duplicate_effect"]
    assert [(f["rule_id"], f["effect_key"]) for f in duplicates] == [
        ("notify-smtp-accepted", "ORD-1007")
    ]
