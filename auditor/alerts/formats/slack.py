"""The Slack sink's message: an incoming-webhook body with Block Kit blocks.

Pure. One message per group: ``text`` (the notification's fallback) and ``blocks``: a
``header`` (plain text, at most 150 characters), a ``section`` naming the rule, its severity
and runbook, a ``section`` listing up to ``MAX_LISTED`` findings (mrkdwn, at most 3000
characters) and a ``context`` saying how many more there are. Slack's own limits (50 blocks
a message, 3000 characters a section, 150 a header) are kept by construction. Text from
spans and rules is escaped for mrkdwn (``&``, ``<``, ``>``).
"""

from __future__ import annotations

from typing import Any

from auditor.alerts.formats.text import headline, plural, subject_line, truncate
from auditor.alerts.model import Event, Group

MAX_LISTED = 10
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
_ICONS = {
    Event.OPEN: ":rotating_light:",
    Event.REPEAT: ":warning:",
    Event.RESOLVED: ":white_check_mark:",
    Event.TEST: ":test_tube:",
}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _about(group: Group) -> str:
    first = group.highest
    f = first.finding
    lines = []
    if len(group.rule_ids) == 1:
        title = f" — {escape(first.title)}" if first.title and first.title != f.rule_id else ""
        lines.append(f"*Rule* `{escape(f.rule_id)}`{title}")
    lines.append(f"*Severity* {f.severity}")
    if first.runbook and len(group.rule_ids) == 1:
        lines.append(f"*Runbook* {escape(first.runbook)}")
    return "\n".join(lines)


def _listing(group: Group) -> str:
    lines = []
    for alert in group.findings[:MAX_LISTED]:
        f = alert.finding
        lines.append(
            f"• {escape(subject_line(alert))}\n    {escape(truncate(f.message, 300))}"
            f" (`{f.fingerprint}`)"
        )
    text = "\n".join(lines)
    while len(text) > SECTION_LIMIT and len(lines) > 1:
        lines.pop()
        text = "\n".join(lines)
    return truncate(text, SECTION_LIMIT)


def build(group: Group) -> list[dict[str, Any]]:
    title = headline(group)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{_ICONS[group.event]} {title}", HEADER_LIMIT),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(_about(group), SECTION_LIMIT)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _listing(group)}},
    ]
    listed = min(len(group.findings), MAX_LISTED)
    hidden = len(group.findings) - listed
    notes = [f"auditor · sink {escape(group.sink.name)}"]
    if hidden:
        notes.insert(0, f"and {plural(hidden, 'more finding')}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(notes)}]})
    return [{"text": title, "blocks": blocks}]
