"""``--format sarif`` is valid SARIF 2.1.0 and carries what GitHub code scanning needs.

The schema is the OASIS SARIF 2.1.0 schema, vendored in ``schemas/`` (its README names the
source): no pip package ships it, and the test must run offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import Report
from tests.unit.reports.sample import clean_report, rich_report

SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)


def sarif(report: Report) -> dict[str, Any]:
    return json.loads(reports.render("sarif", report))


def assert_valid(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def one_finding_report(rule: RuleInfo, inputs: tuple[str, ...] = ()) -> Report:
    finding = Finding(
        rule_id=rule.id,
        kind=Kind.UNCONFIRMED_DONE,
        severity=Severity.MEDIUM,
        state=State.OPEN,
        system="celery",
        job_id="1",
        job_name="tasks.x",
        effect_key="",
        trace_id="",
        message="m",
    )
    return Report(findings=(finding,), rules={rule.id: rule}, inputs=inputs)


@pytest.mark.parametrize("make", [rich_report, clean_report], ids=["findings", "clean"])
def test_sarif_output_validates_against_the_sarif_2_1_0_schema(make: Any) -> None:
    assert_valid(sarif(make()))


def test_sarif_names_the_schema_version_and_tool() -> None:
    doc = sarif(rich_report())
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    driver = doc["runs"][0]["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("auditor", "9.9.9")


def test_every_result_points_at_its_rule_by_id_and_index() -> None:
    run = sarif(rich_report())["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_result_levels_follow_finding_severity() -> None:
    run = sarif(rich_report())["runs"][0]
    levels = {r["properties"]["severity"]: r["level"] for r in run["results"]}
    assert levels == {
        "critical": "error",
        "high": "error",
        "medium": "warning",
        "low": "note",
        "info": "note",
    }


def test_every_result_has_a_physical_location_and_the_finding_fingerprint() -> None:
    report = rich_report()
    run = sarif(report)["runs"][0]
    assert len(run["results"]) == len(report.findings)
    fingerprints = {f.fingerprint for f in report.findings}
    for result in run["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert location["logicalLocations"][0]["name"]
        assert result["partialFingerprints"]["auditorFingerprint/v1"] in fingerprints


def test_a_result_carries_the_finding_subject_in_its_properties() -> None:
    run = sarif(rich_report())["runs"][0]
    (dup,) = [r for r in run["results"] if r["properties"]["kind"] == "duplicate_effect"]
    assert dup["properties"] == {
        "kind": "duplicate_effect",
        "severity": "critical",
        "state": "open",
        "system": "rq",
        "job_id": "",
        "job_name": "",
        "trace_id": "d4cda95b652f4a1592b449d5929fda1b",
        "effect_key": "ORD-1001",
    }


def test_rules_carry_kinds_and_labels_as_tags_and_a_problem_severity() -> None:
    rules = {r["id"]: r for r in sarif(rich_report())["runs"][0]["tool"]["driver"]["rules"]}
    notify = rules["notify-email-confirmed"]
    assert notify["properties"]["tags"] == ["failed_effect", "unconfirmed_done", "team:growth"]
    assert notify["properties"]["problem.severity"] == "error"
    assert "security-severity" not in notify["properties"]
    assert notify["helpUri"] == "https://runbooks.example/email"
    assert notify["shortDescription"]["text"] == "Notification emails are accepted by the relay"
    assert notify["defaultConfiguration"]["level"] == "error"


def test_a_rule_from_a_relative_file_is_located_at_its_file_and_line() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.MEDIUM, source="rules/r.yaml", line=9)
    physical = sarif(one_finding_report(rule))["runs"][0]["results"][0]["locations"][0][
        "physicalLocation"
    ]
    assert physical == {"artifactLocation": {"uri": "rules/r.yaml"}, "region": {"startLine": 9}}


def test_a_packaged_rule_with_an_absolute_path_becomes_a_file_uri() -> None:
    rule = RuleInfo(
        id="r", title="t", severity=Severity.MEDIUM, source="/site/auditor/_builtin_rules/p.yaml"
    )
    doc = sarif(one_finding_report(rule))
    assert_valid(doc)
    physical = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "file:///site/auditor/_builtin_rules/p.yaml"
    assert physical["region"]["startLine"] == 1


def test_a_rule_without_a_source_is_located_at_the_scanned_input() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.MEDIUM)
    doc = sarif(one_finding_report(rule, inputs=("traces.jsonl",)))
    assert_valid(doc)
    location = doc["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "traces.jsonl"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "celery/tasks.x/1"


def test_a_finding_whose_rule_is_unknown_still_gets_a_rule_descriptor() -> None:
    run = sarif(rich_report())["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "orphan-rule" in ids


def test_false_positive_findings_are_marked_as_suppressed() -> None:
    run = sarif(rich_report())["runs"][0]
    suppressed = [r for r in run["results"] if "suppressions" in r]
    assert [r["ruleId"] for r in suppressed] == ["adhoc.webhook-ok"]
