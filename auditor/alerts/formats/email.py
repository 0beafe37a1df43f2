"""The email sink's message: a subject and a plain-text body listing the findings.

Pure. One email per group. Stored as ``{"subject": ..., "text": ...}``; the sender adds
``From``, ``To``, ``Date`` and a ``Message-ID`` made from the outbox message, the same on
every delivery of that message (a mail client shows a re-delivery as the same mail). The
body lists up to ``MAX_LISTED`` findings, each with its message, job, trace and fingerprint.
"""

from __future__ import annotations

from typing import Any

from auditor.alerts.formats.text import headline, plural, subject_line
from auditor.alerts.model import Event, Group, rfc3339

MAX_LISTED = 100

_INTRO = {
    Event.OPEN: "These jobs said they were done, and the work they promised is not confirmed.",
    Event.REPEAT: "These findings are still open.",
    Event.RESOLVED: "These findings are resolved: they are no longer produced.",
    Event.TEST: "A test alert from `audit alerts test`: no job lied.",
}


def build(group: Group) -> list[dict[str, Any]]:
    title = headline(group)
    first = group.highest
    lines = [title, "", _INTRO[group.event], ""]
    if len(group.rule_ids) == 1:
        lines.append(
            f"Rule: {first.finding.rule_id}" + (f" — {first.title}" if first.title else "")
        )
        if first.runbook:
            lines.append(f"Runbook: {first.runbook}")
        lines.append("")
    for alert in group.findings[:MAX_LISTED]:
        f = alert.finding
        lines.append(f"- [{f.severity}] {subject_line(alert)}")
        lines.append(f"  {f.message}")
        when = (
            f"resolved {rfc3339(alert.resolved_at)}"
            if alert.resolved_at
            else (f"open since {rfc3339(alert.opened_at)}")
        )
        lines.append(f"  {when} · trace {f.trace_id or '-'} · fingerprint {f.fingerprint}")
    hidden = len(group.findings) - MAX_LISTED
    if hidden > 0:
        lines.append(f"... and {plural(hidden, 'more finding')}.")
    lines += ["", f"-- auditor, sink {group.sink.name}"]
    prefix = group.sink.email.subject_prefix if group.sink.email else ""
    subject = f"{prefix} {title}".strip()
    return [{"subject": subject, "text": "\n".join(lines) + "\n"}]
