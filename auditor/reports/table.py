"""``--format table``: findings as an aligned plain-text table for a terminal, then a summary.

Pure: ``render(report, color=...)`` returns the text, ending in a newline; the CLI decides
where it goes and whether the terminal wants color (``color=True`` adds ANSI SGR codes to the
severity column and the header, nothing else; widths are computed on the plain text so colored
and plain output align the same). No rich/textual dependency: this output is also what CI logs
show, so it stays plain ASCII layout with at most a few escape codes.

Findings are grouped by rule (most severe rule first), under a line naming the rule, its
severity, its count and where it is defined; each row shows the finding's state (``pending``
findings are inside their grace window). Every cell is one line: newlines and control
characters from span data are neutralised (``common.single_line``) so a job name cannot move
the cursor or forge log lines. Given a terminal ``width``, only the message (the last column)
is cut to fit, never the ids people copy; long job ids are shortened (``common.short_id``)
unless ``wide`` (every other format carries the full id).
"""

from __future__ import annotations

from auditor.findings.model import Finding, Severity
from auditor.findings.report import Report
from auditor.reports import common

HEADERS = ("STATE", "KIND", "SYSTEM", "JOB", "JOB ID", "EFFECT KEY", "MESSAGE")
INDENT = "  "
_MIN_MESSAGE = 30  # narrower than this beside the other columns: the message gets its own line

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


def _row(f: Finding, wide: bool) -> tuple[str, ...]:
    return tuple(
        common.single_line(cell) or "-"
        for cell in (
            str(f.state),
            str(f.kind),
            f.system,
            f.job_name,
            f.job_id if wide else common.short_id(f.job_id),
            f.effect_key,
            f.message,
        )
    )


def _fit(text: str, room: int) -> str:
    if room <= 0 or len(text) <= room:
        return text
    return text[: max(room - 1, 0)] + "…"


def render(
    report: Report, *, color: bool = False, width: int | None = None, wide: bool = False
) -> str:
    summary = common.summary_line(report)
    if not report.findings:
        return (f"{_GREEN}{summary}{_RESET}" if color else summary) + "\n"

    findings = common.ordered(report.findings)
    rows = [_row(f, wide) for f in findings]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    room = None
    below = False  # on a narrow terminal the message goes on a line of its own
    if width is not None:
        room = width - len(INDENT) - sum(w + 2 for w in widths[:-1])
        if room < _MIN_MESSAGE:
            below, room = True, max(width - 2 * len(INDENT), _MIN_MESSAGE)

    def line(cells: tuple[str, ...], style: str = "") -> str:
        out = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:-1])]
        message = _fit(cells[-1], room) if room is not None else cells[-1]
        if not below:
            out.append(message)
        text = INDENT + "  ".join(out).rstrip()
        if below and message:
            text += "\n" + 2 * INDENT + message
        return f"{style}{text}{_RESET}" if style else text

    groups: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        groups.setdefault(f.rule_id, []).append(i)
    lines: list[str] = [line((*HEADERS[:-1], "") if below else HEADERS, _BOLD if color else "")]
    for rule_id, members in groups.items():
        first = findings[members[0]]
        rule = common.rule_for(report, rule_id, first)
        where = common.rule_path(rule)
        if where and rule.line > 0:
            where += f":{rule.line}"
        title = f"{rule_id}  {first.severity}  {common.plural(len(members), 'finding')}"
        title += f"  ({where})" if where else ""
        lines.append("")
        lines.append(f"{_SEVERITY_COLOR[first.severity]}{title}{_RESET}" if color else title)
        lines += [line(rows[i], _SEVERITY_COLOR[first.severity] if color else "") for i in members]
    lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"
