"""``audit scan`` over the real Celery, RQ and BullMQ captures reports exactly their ground truth.

The captures (``tests/data/captures/<system>/``) were recorded from real workers running their
own, unmodified OpenTelemetry instrumentation; ``ground_truth.json`` says which finding kind
each job must produce. The rule files (``tests/data/rules/scan/<system>-<variant>.yaml``) are
the docs/design.md example in its own format with ``jobs.name`` set to each shop's job names, and
variants of it: ``correlate: key`` without ``key:`` and with an explicit one, a ``span:`` selector on the SMTP
client span, and subsets of ``checks:``. Every scan runs through the ``audit`` entry point.

Precision and recall are measured on (job_id, kind) pairs and must both be 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from auditor.rules.model import Check
from tests.unit.engine.scanning import (
    SCAN_RULES,
    SYSTEMS,
    Pair,
    capture,
    ground_truth,
    ground_truth_entries,
    load_yaml,
    precision_recall,
    scan_once,
)

FULL_VARIANTS = ("design", "key", "span")


@pytest.mark.parametrize("variant", FULL_VARIANTS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_design_format_rule_file_finds_exactly_the_lies_of_a_real_capture(
    system: str, variant: str
) -> None:
    rules = SCAN_RULES / f"{system}-{variant}.yaml"
    # The DESIGN example and the span variant run with the built-in packs, as users run them
    # (test_one_lie_one_finding reuses the span scan); the key variant without, which halves
    # its cost (every file has its own complete_within rule).
    packs = [] if variant in ("design", "span") else ["--no-packs"]

    result = scan_once(["--rules", rules, *packs, capture(system)])

    truth = ground_truth(system)
    found = result.pairs()
    assert found == truth, f"missing {truth - found}, not lies {found - truth}"
    assert precision_recall(found, truth) == (1.0, 1.0)
    assert result.code == 1  # every capture holds lies


@pytest.mark.parametrize("system", SYSTEMS)
def test_key_correlation_with_and_without_an_explicit_key_finds_the_same_lies(
    system: str,
) -> None:
    result = scan_once(
        ["--rules", SCAN_RULES / f"{system}-key.yaml", "--no-packs", capture(system)]
    )

    not_lost = {pair for pair in ground_truth(system) if pair[1] != "lost_job"}
    assert result.pairs("notify-email-confirmed-by-key") == not_lost
    assert result.pairs("notify-email-confirmed-by-explicit-key") == not_lost


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_finding_of_the_design_rule_names_the_rule_and_the_capture_job(system: str) -> None:
    result = scan_once(["--rules", SCAN_RULES / f"{system}-design.yaml", capture(system)])

    entries = {
        e["job_id"]: e for e in ground_truth_entries(capture(system).parent / "ground_truth.json")
    }
    for finding in result.findings:
        job = entries[finding["job_id"]]
        assert finding["system"] == system
        assert finding["state"] == "open"  # scan takes the input as complete
        if finding["kind"] == "lost_job":
            assert finding["rule_id"] == f"{system}-jobs-complete"
        else:
            assert finding["rule_id"] == "notify-email-confirmed"
            assert finding["severity"] == "high"
        if finding["kind"] in ("premature_done", "duplicate_effect"):
            assert finding["effect_key"] == job["effect_key"]
        if finding["kind"] != "duplicate_effect":
            assert finding["job_name"] == job["job_name"]


def _expected_for(checks: list[str], truth_entries: list[Mapping[str, Any]]) -> set[Pair]:
    """What a rule with only ``checks`` must report: the lies of those kinds. Without
    ``effect_ok``, a job that swallowed its failure is simply unconfirmed."""
    kinds = {str(Check(c).kind) for c in checks}
    expected = set()
    for entry in truth_entries:
        kind = entry["expected_kind"]
        if kind in kinds:
            expected.add((entry["job_id"], kind))
        elif kind == "failed_effect" and "confirmed" in checks and "effect_ok" not in checks:
            expected.add((entry["job_id"], "unconfirmed_done"))
    return expected


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_check_subset_reports_only_its_kinds_and_all_of_them(system: str) -> None:
    rule_file = SCAN_RULES / f"{system}-checks.yaml"
    rules = load_yaml(rule_file)["rules"]
    truth_entries = ground_truth_entries(capture(system).parent / "ground_truth.json")

    result = scan_once(["--rules", rule_file, "--no-packs", capture(system)])

    by_rule = result.by_rule()
    assert set(by_rule) <= {r["id"] for r in rules}
    for rule in rules:
        checks = list(rule.get("checks", [])) + (
            ["complete_within"] if "complete_within" in rule else []
        )
        expected = _expected_for(checks, truth_entries)
        found = by_rule.get(rule["id"], set())
        assert found == expected, (
            f"{rule['id']}: missing {expected - found}, extra {found - expected}"
        )
        assert {kind for _, kind in found} <= {str(Check(c).kind) for c in checks}


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_built_in_packs_alone_report_nothing_that_is_not_a_lie(system: str) -> None:
    result = scan_once([capture(system)])

    truth = ground_truth(system)
    found = result.pairs()
    assert found <= truth, f"not lies: {found - truth}"
    assert all(f["rule_id"] in _pack_rule_ids() for f in result.findings)


def test_the_built_in_packs_alone_report_the_lost_celery_job() -> None:
    result = scan_once([capture("celery")])

    lost = {pair for pair in ground_truth("celery") if pair[1] == "lost_job"}
    assert len(lost) == 1
    assert lost <= result.pairs()
    (finding,) = [f for f in result.findings if f["kind"] == "lost_job"]
    assert finding["rule_id"] == "celery-jobs-run"
    assert finding["job_name"] == "shop.send_order_confirmation"
    assert result.code == 1


def _pack_rule_ids() -> set[str]:
    packs = Path(__file__).resolve().parents[3] / "rules" / "packs"
    return {rule["id"] for path in packs.glob("*.yaml") for rule in load_yaml(path)["rules"]}
