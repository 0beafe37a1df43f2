"""``--format markdown``: a pull-request comment (GitHub-flavoured Markdown).

Pure: ``render(report)`` returns the Markdown, ending in a newline. Layout:

- a ``##`` heading with the counts (``auditor: 3 findings (2 high, 1 medium)``), then the
  summary sentence;
- per severity, most severe first, a ``###`` heading and a table of its findings (rule, kind,
  system, job, job id, effect key, message, and whether it fails the run);
- per finding a ``<details>`` block: subject, state, trace, fingerprint, runbook, and the
  evidence spans (role, name, service, trace id, status, note) as a table;
- when there is nothing to report, the line "No lies found" with the scope.

Span data is untrusted text in a page GitHub renders: every value is HTML-escaped (so it
cannot open tags or break the ``<details>`` layout), Markdown punctuation is backslash-escaped
in prose, pipes are escaped in table cells, and newlines become spaces. GitHub caps a comment
at 65,536 characters, so at most ``MAX_DETAILS`` findings get a details block and the table
rows past ``MAX_ROWS`` are summarised in one line.
"""

from __future__ import annotations

import html
import re

from auditor.findings.model import Finding, SpanRef
from auditor.findings.report import Report
from auditor.reports import common

MAX_ROWS = 200
MAX_DETAILS = 50

# Inline Markdown punctuation; ``<``, ``>`` and ``&`` are HTML-escaped before this runs.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# What makes a line a heading, list item or quote when it starts a paragraph.
_BLOCK_START = re.compile(r"^(#|[-+=]|\d+(?=[.)]))")


def text(value: str) -> str:
    """Untrusted text as inert Markdown prose on one line."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(common.single_line(value), quote=False))


def paragraph(value: str) -> str:
    """Untrusted text as a paragraph of its own: also no heading or list marker at its start."""
    escaped = text(value)
    match = _BLOCK_START.match(escaped)
    if match is None:
        return escaped
    if match.group()[0].isdigit():  # "1. x" → "1\. x"
        return escaped[: match.end()] + "\\" + escaped[match.end() :]
    return "\\" + escaped


def code(value: str) -> str:
    """Untrusted text as inline code; HTML ``<code>`` so entities keep ``<`` and ``&`` inert."""
    if not value:
        return ""
    escaped = html.escape(common.single_line(value), quote=False).replace("|", "&#124;")
    return f"<code>{escaped}</code>"


def cell(rendered: str) -> str:
    """A rendered value made safe inside a table cell: GFM splits cells on unescaped pipes."""
    return re.sub(r"(?<!\\)\|", r"\\|", rendered) or " "


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(headers), "|" + "|".join(" --- " for _ in headers) + "|"] + [_row(r) for r in rows]


def _finding_row(report: Report, f: Finding) -> list[str]:
    fails = "yes" if report.is_failing(f) else "no"
    return [
        code(f.rule_id),
        code(str(f.kind)),
        text(str(f.state)),
        text(f.system),
        code(f.job_name),
        code(f.job_id),
        code(f.effect_key),
        text(f.message),
        fails,
    ]


def _evidence_row(span: SpanRef) -> list[str]:
    return [
        text(span.role),
        code(span.name),
        text(span.service),
        code(span.trace_id),
        text(span.status),
        text(span.note),
    ]


def _details(report: Report, f: Finding) -> list[str]:
    rule = common.rule_for(report, f.rule_id, f)
    subject = common.job_label(f)
    out = [
        "<details>",
        f"<summary>{html.escape(f.severity.upper())} {code(f.rule_id)} {code(str(f.kind))}: "
        f"{html.escape(common.single_line(subject), quote=False)}</summary>",
        "",
        paragraph(f.message),
        "",
        f"- **Rule**: {text(rule.title or rule.id)}",
        f"- **State**: {text(str(f.state))}, triage {text(str(f.triage))}",
    ]
    if f.trace_id:
        out.append(f"- **Trace**: {code(f.trace_id)}")
    if f.effect_name:
        out.append(f"- **Effect**: {code(f.effect_name)}")
    if f.effect_key:
        out.append(f"- **Effect key**: {code(f.effect_key)}")
    if f.queue:
        out.append(f"- **Queue**: {code(f.queue)}")
    if f.attempt is not None:
        out.append(f"- **Attempt**: {f.attempt}")
    out.append(f"- **Fingerprint**: {code(f.fingerprint)}")
    if rule.runbook:
        out.append(f"- **Runbook**: <{html.escape(rule.runbook)}>")
    if f.evidence:
        out += ["", "**Evidence**", ""]
        out += _table(
            ["Role", "Span", "Service", "Trace", "Status", "Note"],
            [_evidence_row(s) for s in f.evidence],
        )
    out += ["", "</details>", ""]
    return out


def render(report: Report) -> str:
    summary = common.summary_line(report)
    if not report.findings:
        clean = f"No lies found {common.scope_phrase(report)}"
        if report.baselined:
            clean += f"; {report.baselined} suppressed by baseline"
        return f"## auditor: no lies found\n\n{text(clean)}\n"

    lines = [f"## auditor: {text(common.counts_phrase(report))}", "", paragraph(summary), ""]
    findings = report.table  # in report order; only the rows shown become Finding values
    shown = list(findings[:MAX_ROWS])
    for severity, count in common.severity_counts(shown):
        lines += [f"### {severity.capitalize()} ({count})", ""]
        lines += _table(
            ["Rule", "Kind", "State", "System", "Job", "Job ID", "Effect key", "Message", "Fails"],
            [_finding_row(report, f) for f in shown if f.severity is severity],
        )
        lines.append("")
    if len(findings) > len(shown):
        lines += [f"…and {len(findings) - len(shown)} more findings not listed.", ""]

    lines += ["### Details", ""]
    for f in findings[:MAX_DETAILS]:
        lines += _details(report, f)
    if len(findings) > MAX_DETAILS:
        lines += [f"…details of {len(findings) - MAX_DETAILS} more findings not shown.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
