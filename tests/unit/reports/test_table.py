"""``--format table`` is an aligned terminal table with a one-line summary."""

from __future__ import annotations

from dataclasses import replace

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import Report
from tests.unit.reports.sample import clean_report, rich_report


def test_the_last_line_summarises_counts_scope_and_threshold() -> None:
    last = reports.render("table", rich_report()).splitlines()[-1]
    assert last == (
        "7 findings (1 critical, 3 high, 1 medium, 1 low, 1 info) in 11 job checks by "
        "5 rules; failing at >= low (6 failing); 2 suppressed by baseline"
    )


def test_a_clean_report_is_one_line() -> None:
    assert reports.render("table", clean_report()) == (
        "No findings in 4 job checks by 2 rules; failing at >= high\n"
    )


def test_counts_use_the_singular_for_one() -> None:
    rule = RuleInfo(id="r", title="t", severity=Severity.HIGH)
    f = Finding("r", Kind.LOST_JOB, Severity.HIGH, State.OPEN, "rq", "1", "j", "", "", "m")
    report = Report((f,), {"r": rule}, checked=())
    assert reports.render("table", report).splitlines()[-1] == (
        "1 finding (1 high) in 0 job checks by 1 rule; failing at >= low"
    )


def test_columns_are_aligned_and_long_job_ids_shortened() -> None:
    lines = reports.render("table", rich_report()).splitlines()
    header = lines[0]
    assert header.split() == ["SEVERITY", "KIND", "RULE", "SYSTEM", "JOB", "JOB", "ID", "EFFECT",
                              "KEY", "MESSAGE"]  # fmt: skip
    start = header.index("MESSAGE")
    for line in lines[1:8]:
        assert line[start - 2 : start] == "  "
    assert "3f2a9c1e…" in lines[4]
    assert "3f2a9c1e-8b7d" not in "".join(lines)


def test_control_characters_in_span_data_never_reach_the_terminal() -> None:
    text = reports.render("table", rich_report())
    assert "\x1b" not in text
    assert "\\x1b[31m" in text


def test_color_adds_ansi_codes_only_when_asked() -> None:
    plain = reports.render("table", rich_report())
    colored = reports.render("table", rich_report(), color=True)
    assert "\x1b[" in colored
    assert _strip_ansi(colored) == plain


def test_the_baseline_note_is_left_out_when_nothing_was_suppressed() -> None:
    report = replace(rich_report(), baselined=0)
    assert "baseline" not in reports.render("table", report)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)
