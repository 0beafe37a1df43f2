"""``--format junit`` parses as JUnit XML with test cases per (rule, job) and correct counts."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import CheckedJob, Report
from tests.unit.reports.sample import clean_report, rich_report


def parse(report: Report) -> ET.Element:
    return ET.fromstring(reports.render("junit", report).encode("utf-8"))


def suite(root: ET.Element, name: str) -> ET.Element:
    (found,) = [s for s in root.iter("testsuite") if s.get("name") == name]
    return found


def test_the_root_is_testsuites_with_one_suite_per_rule() -> None:
    root = parse(rich_report())
    assert root.tag == "testsuites"
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == sorted([*rich_report().rules, "orphan-rule"])


def test_suite_and_root_counts_match_the_test_cases_and_failures() -> None:
    root = parse(rich_report())
    total_tests = total_failures = 0
    for s in root.findall("testsuite"):
        cases = s.findall("testcase")
        failed = [c for c in cases if c.find("failure") is not None]
        assert int(s.get("tests", "-1")) == len(cases)
        assert int(s.get("failures", "-1")) == len(failed)
        assert s.get("errors") == "0"
        total_tests += len(cases)
        total_failures += len(failed)
    assert int(root.get("tests", "-1")) == total_tests == 13
    # the pending finding (inside its grace window) is shown, not failing
    assert int(root.get("failures", "-1")) == total_failures == 5


def test_each_checked_job_is_a_test_case_named_system_job_name_and_id() -> None:
    notify = suite(parse(rich_report()), "notify-email-confirmed")
    cases = {c.get("name"): c for c in notify.findall("testcase")}
    assert set(cases) == {
        "celery tasks.send_digest 17",
        "celery tasks.send_digest 18",
        "celery tasks.send_reset 19",
        "celery tasks.send_welcome 3f2a9c1e-8b7d-4e2f-9a1b-5c6d7e8f9a0b",
    }
    assert all(c.get("classname") == "notify-email-confirmed" for c in cases.values())
    pending = cases["celery tasks.send_digest 17"]
    assert pending.find("failure") is None  # still inside its grace window
    out = pending.find("system-out")
    assert out is not None and (out.text or "").startswith("pending (inside its grace window)")
    failure = cases["celery tasks.send_welcome 3f2a9c1e-8b7d-4e2f-9a1b-5c6d7e8f9a0b"].find(
        "failure"
    )
    assert failure is not None
    assert failure.get("type") == "unconfirmed_done"
    assert cases["celery tasks.send_digest 18"].find("failure") is None


def test_a_finding_keyed_by_its_effect_gets_a_test_case_of_its_own() -> None:
    payments = suite(parse(rich_report()), "payments-capture-once")
    names = [c.get("name") for c in payments.findall("testcase")]
    assert "rq effect ORD-1001" in names
    assert payments.get("tests") == "3"
    assert payments.get("failures") == "1"


def test_a_finding_below_fail_on_is_reported_without_failing_its_test_case() -> None:
    orphan = suite(parse(rich_report()), "orphan-rule")
    (case,) = orphan.findall("testcase")
    assert case.find("failure") is None
    assert "below --fail-on low" in (case.findtext("system-out") or "")
    assert orphan.get("failures") == "0"


def test_two_findings_on_one_job_are_two_failures_in_one_failed_test_case() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    findings = tuple(
        Finding("r", kind, Severity.HIGH, State.OPEN, "rq", "7", "j", "", "", f"{kind} here")
        for kind in (Kind.PREMATURE_DONE, Kind.FAILED_EFFECT)
    )
    report = Report(findings, {"r": rule}, checked=(CheckedJob("r", "rq", "7", "j"),))
    s = suite(parse(report), "r")
    (case,) = s.findall("testcase")
    assert [f.get("type") for f in case.findall("failure")] == ["failed_effect", "premature_done"]
    assert (s.get("tests"), s.get("failures")) == ("1", "1")


def test_characters_xml_cannot_carry_are_escaped_so_the_file_parses() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    finding = Finding(
        "r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "\x00id", "j\x1b", "", "", "a\x07b"
    )
    root = parse(Report((finding,), {"r": rule}))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "a\\x07b"


def test_a_clean_report_has_test_cases_and_no_failures() -> None:
    root = parse(clean_report())
    assert (root.get("tests"), root.get("failures")) == ("4", "0")
    assert root.find(".//failure") is None
