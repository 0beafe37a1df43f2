"""Every format, rendered from the fixed sample reports, equals its golden file.

The goldens in ``tests/data/golden/`` are what users see; ``AUDITOR_UPDATE_GOLDENS=1``
rewrites them.
"""

from __future__ import annotations

import pytest

from auditor import reports
from tests.unit.reports.golden import assert_golden
from tests.unit.reports.sample import clean_report, rich_report

SUFFIX = {
    "table": "txt",
    "json": "json",
    "sarif": "sarif.json",
    "junit": "junit.xml",
    "github": "github.txt",
    "markdown": "md",
}


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_a_report_with_findings_renders_as_its_golden_file(fmt: str) -> None:
    assert_golden(f"findings.{SUFFIX[fmt]}", reports.render(fmt, rich_report()))


@pytest.mark.parametrize("fmt", reports.FORMATS)
def test_a_clean_report_renders_as_its_golden_file(fmt: str) -> None:
    assert_golden(f"clean.{SUFFIX[fmt]}", reports.render(fmt, clean_report()))


def test_the_colored_table_renders_as_its_golden_file() -> None:
    assert_golden("findings.color.txt", reports.render("table", rich_report(), color=True))


def test_every_golden_format_is_covered_by_a_suffix() -> None:
    assert set(SUFFIX) == set(reports.FORMATS)
