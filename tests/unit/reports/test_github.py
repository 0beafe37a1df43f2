"""``--format github`` writes one workflow command per finding, escaped the way GitHub reads."""

from __future__ import annotations

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import Report
from auditor.reports.github import escape_data, escape_property
from tests.unit.reports.sample import clean_report, rich_report


def test_message_data_escapes_percent_carriage_return_and_newline() -> None:
    assert escape_data("100%\r\n::x") == "100%25%0D%0A::x"


def test_property_values_also_escape_colon_and_comma() -> None:
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_percent_is_escaped_before_the_sequences_it_introduces() -> None:
    assert escape_data("%0A") == "%250A"


def test_each_finding_is_one_line_with_a_level_by_severity() -> None:
    lines = reports.render("github", rich_report()).splitlines()
    assert len(lines) == len(rich_report().findings) + 1
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == [
        "::error",
        "::error",
        "::notice",  # pending: inside its grace window, shown but not failing
        "::error",
        "::warning",
        "::notice",
        "::notice",
    ]
    assert lines[-1].startswith("::notice title=auditor::7 findings")


def test_an_annotation_points_at_the_rule_file_and_line() -> None:
    lines = reports.render("github", rich_report()).splitlines()
    assert lines[0] == (
        "::error file=rules/payments.yaml,line=12,title=payments-capture-once duplicate_effect::"
        "payment.captured confirmed 2 times for key ORD-1001 (100%25 over) "
        "(effect payment.captured key ORD-1001 on rq, trace d4cda95b652f4a1592b449d5929fda1b)"
    )


def test_a_newline_in_span_data_cannot_forge_a_second_command() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH, source="C:\\rules\\r,1.yaml", line=2)
    finding = Finding(
        "r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "1", "j", "", "",
        "oops\n::error::forged\x1b[0m",
    )  # fmt: skip
    out = reports.render("github", Report((finding,), {"r": rule}))
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        "::error file=C%3A/rules/r%2C1.yaml,line=2,title=r lost_job::"
        "oops%0A::error::forged\\x1b[0m (job j 1 on rq)"
    )


def test_a_rule_without_a_file_gives_an_annotation_without_a_location() -> None:
    lines = reports.render("github", rich_report()).splitlines()
    (adhoc,) = [line for line in lines if "adhoc.webhook-ok" in line]
    assert adhoc.startswith("::notice title=adhoc.webhook-ok unconfirmed_done::")


def test_a_clean_report_is_one_notice() -> None:
    assert reports.render("github", clean_report()) == (
        "::notice title=auditor::No findings in 4 job checks by 2 rules over 88 spans; failing at >= high\n"
    )
