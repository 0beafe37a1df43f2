"""``--format json`` prints one object with the contract fields of docs/design.md, deterministically."""

from __future__ import annotations

import json
from dataclasses import replace

from auditor import reports
from tests.unit.reports.sample import clean_report, rich_report

CONTRACT_FIELDS = {
    "rule_id",
    "kind",
    "severity",
    "state",
    "system",
    "job_id",
    "job_name",
    "effect_key",
    "trace_id",
    "fingerprint",
    "message",
}


def test_the_output_is_exactly_one_object_with_findings_and_summary() -> None:
    text = reports.render("json", rich_report())
    document = json.loads(text)  # raises on trailing data: one object, nothing else
    assert set(document) == {"findings", "summary"}
    assert text.endswith("}\n")


def test_every_finding_has_the_contract_fields() -> None:
    findings = json.loads(reports.render("json", rich_report()))["findings"]
    assert len(findings) == 7
    for f in findings:
        assert set(f) >= CONTRACT_FIELDS


def test_finding_values_are_those_of_the_model() -> None:
    report = rich_report()
    by_fp = {f.fingerprint: f for f in report.findings}
    for f in json.loads(reports.render("json", report))["findings"]:
        # Through JSON, as a reader sees it (tuples become lists).
        assert f == json.loads(json.dumps(by_fp[f["fingerprint"]].to_dict()))


def test_the_summary_is_the_report_summary_plus_the_tool() -> None:
    report = rich_report()
    summary = json.loads(reports.render("json", report))["summary"]
    tool = summary.pop("tool")
    assert tool == {"name": "auditor", "version": "9.9.9"}
    assert summary == report.summary()


def test_findings_are_ordered_most_severe_first_whatever_the_input_order() -> None:
    report = rich_report()
    shuffled = replace(report, findings=tuple(reversed(report.findings)))
    assert reports.render("json", shuffled) == reports.render("json", report)
    severities = [f["severity"] for f in json.loads(reports.render("json", report))["findings"]]
    assert severities == ["critical", "high", "high", "high", "medium", "low", "info"]


def test_the_tool_version_defaults_to_the_package_version() -> None:
    from auditor import __version__

    report = replace(clean_report(), tool_version="")
    assert json.loads(reports.render("json", report))["summary"]["tool"]["version"] == __version__


def test_a_clean_report_has_an_empty_findings_list() -> None:
    document = json.loads(reports.render("json", clean_report()))
    assert document["findings"] == []
    assert document["summary"]["findings"] == 0
