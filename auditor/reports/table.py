"""``--format table``: findings as an aligned plain-text table for a terminal, then a summary.

Pure: ``render(report, color=...)`` returns the text, ending in a newline; the CLI decides
where it goes and whether the terminal wants color (``color=True`` adds ANSI SGR codes to the
severity column and the header, nothing else; widths are computed on the plain text so colored
and plain output align the same). No rich/textual dependency: this output is also what CI logs
show, so it stays plain ASCII layout with at most a few escape codes.

Every cell is one line: newlines and control characters from span data are neutralised
(``common.single_line``) so a job name cannot move the cursor or forge log lines. The message
is the last column and is never truncated; long job ids are shortened (``common.short_id``),
the full id is in every other format.
"""

from __future__ import annotations

from auditor.findings.model import Finding, Severity
from auditor.findings.report import Report
from auditor.reports import common

HEADERS = ("SEVERITY", "KIND", "RULE", "SYSTEM", "JOB", "JOB ID", "EFFECT KEY", "MESSAGE")

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_SEVERITY_COLOR = {
    Severity.CRITICAL: "\x1b[1;35m",  # bold magenta
    Severity.HIGH: "\x1b[1;31m",  # bold red
    Severity.MEDIUM: "\x1b[33m",  # yellow
    Severity.LOW: "\x1b[36m",  # cyan
    Severity.INFO: "\x1b[2m",  # dim
}
_GREEN = "\x1b[32m"


def _row(f: Finding) -> tuple[str, ...]:
    return tuple(
        common.single_line(cell) or "-"
        for cell in (
            str(f.severity),
            str(f.kind),
            f.rule_id,
            f.system,
            f.job_name,
            common.short_id(f.job_id),
            f.effect_key,
            f.message,
        )
    )


def render(report: Report, *, color: bool = False) -> str:
    summary = common.summary_line(report)
    if not report.findings:
        return (f"{_GREEN}{summary}{_RESET}" if color else summary) + "\n"

    findings = common.ordered(report.findings)
    rows = [_row(f) for f in findings]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def line(cells: tuple[str, ...], styles: tuple[str, ...] = ()) -> str:
        out = []
        for i, cell in enumerate(cells):
            padded = cell if i == len(cells) - 1 else cell.ljust(widths[i])
            style = styles[i] if i < len(styles) else ""
            out.append(f"{style}{padded}{_RESET}" if style else padded)
        return "  ".join(out).rstrip()

    lines = [line(HEADERS, (_BOLD,) * len(HEADERS) if color else ())]
    for f, row in zip(findings, rows, strict=True):
        lines.append(line(row, (_SEVERITY_COLOR[f.severity],) if color else ()))
    lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"
