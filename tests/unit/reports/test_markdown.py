"""``--format markdown`` is a PR comment: counts, tables by severity, details, inert span data."""

from __future__ import annotations

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import Report
from auditor.reports.markdown import MAX_DETAILS
from tests.unit.reports.sample import clean_report, rich_report


def test_the_heading_has_the_counts() -> None:
    first = reports.render("markdown", rich_report()).splitlines()[0]
    assert first == "## auditor: 7 findings (1 critical, 3 high, 1 medium, 1 low, 1 info)"


def test_findings_are_grouped_by_severity_most_severe_first() -> None:
    headings = [
        line for line in reports.render("markdown", rich_report()).splitlines()
        if line.startswith("### ")
    ]  # fmt: skip
    assert headings == [
        "### Critical (1)",
        "### High (3)",
        "### Medium (1)",
        "### Low (1)",
        "### Info (1)",
        "### Details",
    ]


def test_every_table_row_has_as_many_cells_as_its_header() -> None:
    text = reports.render("markdown", rich_report())
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    widths = {_cells(line) for line in table_lines if "---" not in line}
    assert widths == {9, 6}  # the findings tables and the evidence tables


def test_pipes_in_span_data_are_escaped_in_cells() -> None:
    text = reports.render("markdown", rich_report())
    assert "side\\_effect.key is N-1002 \\| expected N-1001" in text


def test_each_finding_has_a_details_block_with_its_evidence() -> None:
    text = reports.render("markdown", rich_report())
    assert text.count("<details>") == text.count("</details>") == 7
    assert "| nearest\\_miss | <code>side_effect.confirm</code> | worker-mail |" in text


def test_span_data_cannot_open_html_tags() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    f = Finding(
        "r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "1|2", "<img src=x>", "", "",
        "</details><script>",
    )  # fmt: skip
    text = reports.render("markdown", Report((f,), {"r": rule}))
    assert "<img" not in text and "<script>" not in text
    assert text.count("</details>") == 1
    assert "<code>1&#124;2</code>" in text


def test_a_message_cannot_become_a_heading_or_list_item() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    f = Finding("r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "1", "j", "", "", "# big")
    g = Finding("r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "2", "j", "", "", "1. item")
    lines = reports.render("markdown", Report((f, g), {"r": rule})).splitlines()
    assert "\\# big" in lines
    assert "1\\. item" in lines


def test_a_clean_report_says_no_lies_found() -> None:
    assert reports.render("markdown", clean_report()) == (
        "## auditor: no lies found\n\n"
        "No lies found in 4 job checks by 2 rules over 88 spans; failing at &gt;= high\n"
    )


def test_details_stop_at_the_cap_and_say_how_many_were_left_out() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    findings = tuple(
        Finding("r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", str(i), "j", "", "", "m")
        for i in range(MAX_DETAILS + 3)
    )
    text = reports.render("markdown", Report(findings, {"r": rule}))
    assert text.count("<details>") == MAX_DETAILS
    assert "details of 3 more findings not shown" in text


def _cells(line: str) -> int:
    # Split on pipes that are not escaped.
    import re

    return len(re.split(r"(?<!\\)\|", line.strip())) - 2
