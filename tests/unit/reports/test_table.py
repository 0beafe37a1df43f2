"""``--format table`` is an aligned terminal table with a one-line summary."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor import reports
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, State
from auditor.findings.report import Report
from tests.unit.reports.sample import clean_report, rich_report


def test_the_last_line_summarises_counts_scope_and_threshold() -> None:
    last = reports.render("table", rich_report()).splitlines()[-1]
    assert last == (
        "7 findings (1 critical, 3 high, 1 medium, 1 low, 1 info) in 11 job checks by "
        "5 rules over 1234 spans; failing at >= low (5 failing); 2 suppressed by baseline"
    )


def test_a_clean_report_is_one_line() -> None:
    assert reports.render("table", clean_report()) == (
        "No findings in 4 job checks by 2 rules over 88 spans; failing at >= high\n"
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
    assert header.split() == ["STATE", "KIND", "SYSTEM", "JOB", "JOB", "ID", "EFFECT", "KEY",
                              "MESSAGE"]  # fmt: skip
    start = header.index("MESSAGE")
    rows = [line for line in lines[1:-2] if line.startswith("  ")]
    assert len(rows) == 7
    for line in rows:
        assert line[start - 2 : start] == "  "
    assert any("3f2a9c1e…" in line for line in rows)
    assert "3f2a9c1e-8b7d" not in "".join(lines)


def test_wide_shows_full_job_ids() -> None:
    text = reports.render("table", rich_report(), wide=True)
    assert "3f2a9c1e-8b7d" in text


def test_findings_are_grouped_under_their_rule_with_its_severity_count_and_file() -> None:
    lines = reports.render("table", rich_report()).splitlines()
    titles = [line for line in lines if line and not line.startswith(" ")][:-1]
    assert titles[0] == "payments-capture-once  critical  1 finding  (rules/payments.yaml:12)"
    assert titles[2] == "notify-email-confirmed  high  2 findings  (rules/notify.yaml:3)"
    assert len(titles) == 6


def test_each_row_shows_the_state_of_its_finding() -> None:
    rows = [
        line.split()[0]
        for line in reports.render("table", rich_report()).splitlines()
        if line.startswith("  ") and not line.startswith("  STATE")
    ]
    assert sorted(set(rows)) == ["open", "pending"]


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_every_line_fits_the_terminal_and_ids_are_never_cut(width: int) -> None:
    lines = reports.render("table", rich_report(), width=width).splitlines()
    for line in lines[:-1]:  # the summary sentence is not a table line
        if line.startswith(" "):
            assert len(line) <= width, line
    text = "\n".join(lines)
    for job_id in ("9d1c2b3a…", "c0ffee00…", "ORD-1001", "LEDGER-7"):
        assert job_id in text


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
