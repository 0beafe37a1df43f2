"""Report renderers: pure functions from a ``Report`` to the text ``audit scan`` writes.

``render(fmt, report, color=...)`` is the one entry point; ``FORMATS`` lists the values of
``audit scan --format``. One module per format (``table``, ``json``, ``sarif``, ``junit``,
``github``, ``markdown``), each with ``render(report) -> str`` and a docstring stating its
contract. Renderers do no I/O and read no clock or environment: the same report renders to
the same bytes, which the golden tests in ``tests/data/golden/`` pin. Every output ends with
one newline. Only the table uses ``color``; the CLI decides it (a TTY, ``NO_COLOR``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from auditor.errors import UsageError
from auditor.findings.report import Report
from auditor.reports import github, junit, markdown, sarif, table
from auditor.reports import json as json_report

FORMATS: tuple[str, ...] = ("table", "json", "sarif", "junit", "github", "markdown")

_RENDERERS = {
    "json": json_report.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "github": github.render,
    "markdown": markdown.render,
}


_WRITERS = {"json": json_report.write, "sarif": sarif.write, "github": github.write}


def check_format(fmt: str) -> None:
    """Raise ``UsageError`` (with the nearest format) unless ``fmt`` is one of ``FORMATS``."""
    if fmt not in FORMATS:
        close = difflib.get_close_matches(fmt, FORMATS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; choose one of {', '.join(FORMATS)}"
        raise UsageError(f"unknown report format {fmt!r}{hint}")


def render(
    fmt: str, report: Report, *, color: bool = False, width: int | None = None, wide: bool = False
) -> str:
    """``width`` and ``wide`` shape the table only (a terminal's columns; full job ids)."""
    check_format(fmt)
    if fmt == "table":
        return table.render(report, color=color, width=width, wide=wide)
    return _RENDERERS[fmt](report)


def write_report(
    fmt: str,
    report: Report,
    out: Callable[[str], object],
    *,
    color: bool = False,
    width: int | None = None,
    wide: bool = False,
) -> None:
    """``render`` through ``out`` (``file.write``). JSON, SARIF and GitHub annotations stream
    a batch of findings at a time; the table, markdown (capped) and JUnit are written whole."""
    if fmt in _WRITERS:
        _WRITERS[fmt](report, out)
    else:
        out(render(fmt, report, color=color, width=width, wide=wide))


__all__ = ["FORMATS", "check_format", "render", "write_report"]
