"""The words every sink uses for a group and a finding, so that they all read alike.

Pure. ``headline(group)``: "Open: 3 findings of notify-email-confirmed (high)";
``subject_line(alert)``: what a finding is about in one line ("unconfirmed_done · celery
tasks.send_email job 8f2a · key ORD-1001"); ``truncate`` cuts text to a sink's limit with
an ellipsis.
"""

from __future__ import annotations

from auditor.alerts.model import AlertFinding, Event, Group

EVENT_WORDS = {
    Event.OPEN: "Open",
    Event.REPEAT: "Still open",
    Event.RESOLVED: "Resolved",
    Event.TEST: "Test",
}


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def headline(group: Group) -> str:
    rules = group.rule_ids
    about = rules[0] if len(rules) == 1 else plural(len(rules), "rule")
    severity = group.highest.finding.severity
    count = plural(len(group.findings), "finding")
    return f"{EVENT_WORDS[group.event]}: {count} of {about} ({severity})"


def subject_line(alert: AlertFinding) -> str:
    f = alert.finding
    parts = [str(f.kind), " ".join(p for p in (f.system, f.job_name) if p)]
    if f.job_id:
        parts[-1] += f" job {f.job_id}"
    if f.effect_key:
        parts.append(f"key {f.effect_key}")
    return " · ".join(p for p in parts if p)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
