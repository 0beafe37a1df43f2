"""The webhook sink's JSON document (auditor's own format, version "1").

Pure. One document per group::

    {"version": "1", "id": "...", "event": "open", "sink": "ops",
     "group": {"key": "rule_id=notify-email", "labels": {"rule_id": "notify-email"}},
     "created_at": "2024-05-01T12:00:00.000Z", "summary": "...",
     "findings": [{...Finding.to_dict() fields..., "title", "runbook", "opened_at",
                   "first_seen", "last_seen", "resolved_at"}]}

``id`` is set when the message is sent and is the same on every delivery of that message,
so a receiver can drop the repeat of an at-least-once delivery. Fields may be added in a
version, never renamed or removed (docs/alerts.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auditor.alerts.formats.text import headline
from auditor.alerts.model import Group, rfc3339

VERSION = "1"


def build(group: Group) -> list[dict[str, Any]]:
    return [
        {
            "version": VERSION,
            "id": "",
            "event": str(group.event),
            "sink": group.sink.name,
            "group": {"key": group.key_text, "labels": dict(group.key)},
            "created_at": rfc3339(group.created_at),
            "summary": headline(group),
            "findings": [a.to_dict() for a in group.findings],
        }
    ]


def at_send(payload: dict[str, Any], message_id: str, now: datetime) -> dict[str, Any]:
    return {**payload, "id": message_id}
