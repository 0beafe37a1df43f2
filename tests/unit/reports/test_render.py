"""``auditor.reports.render`` dispatches by format name and every format is deterministic."""

from __future__ import annotations

import pytest

from auditor import reports
from auditor.errors import UsageError
from tests.unit.reports.sample import clean_report, rich_report


def test_the_formats_are_those_audit_scan_accepts() -> None:
    assert reports.FORMATS == ("table", "json", "sarif", "junit", "github", "markdown")


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_every_format_renders_the_same_report_to_the_same_text(fmt: str) -> None:
    assert reports.render(fmt, rich_report()) == reports.render(fmt, rich_report())


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_every_format_ends_with_exactly_one_newline(fmt: str) -> None:
    for report in (rich_report(), clean_report()):
        text = reports.render(fmt, report)
        assert text.endswith("\n") and not text.endswith("\n\n")


def test_an_unknown_format_is_a_usage_error_that_suggests_the_nearest() -> None:
    with pytest.raises(UsageError, match="unknown report format 'sarf'; did you mean 'sarif'"):
        reports.render("sarf", rich_report())


def test_an_unknown_format_with_no_near_match_lists_the_formats() -> None:
    with pytest.raises(UsageError, match="choose one of table, json, sarif"):
        reports.render("pdf", rich_report())


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_writing_a_report_in_batches_gives_the_text_render_returns(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.findings import table as finding_table
    from auditor.reports import sarif

    monkeypatch.setattr(sarif, "BATCH", 2)  # several batches out of the sample's 7 findings
    monkeypatch.setattr(finding_table, "JSON_BATCH", 3)
    report = rich_report()
    chunks: list[str] = []
    reports.write_report(fmt, report, chunks.append)
    assert "".join(chunks) == reports.render(fmt, report)
    if fmt in ("json", "sarif"):
        assert len(chunks) > 3  # streamed, not one string
