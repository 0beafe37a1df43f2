"""Payload builders, one module per sink, each to that service's documented format.

Pure: a ``Group`` in, JSON-ready dicts out; no I/O, no secrets. ``build(group)`` gives the
payloads to store in the outbox, one per message (a PagerDuty group gives one event per
finding, every other sink one message per group). ``for_sending`` finishes a stored payload
at the moment it is sent: what must not be stored (PagerDuty's routing key) or depends on
the sending time (Alertmanager's ``endsAt`` of a firing alert, the message id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from auditor.alerts.config import SinkConfig
from auditor.alerts.formats import alertmanager, email, pagerduty, slack, webhook
from auditor.alerts.model import Group

_BUILDERS: dict[str, Callable[[Group], list[dict[str, Any]]]] = {
    "webhook": webhook.build,
    "slack": slack.build,
    "alertmanager": alertmanager.build,
    "pagerduty": pagerduty.build,
    "email": email.build,
}


def build(group: Group) -> list[dict[str, Any]]:
    return _BUILDERS[group.sink.type](group)


def for_sending(sink: SinkConfig, payload: dict[str, Any], message_id: str, now: datetime) -> Any:
    """The body as it is sent (JSON-ready; for email, the stored dict and its message id)."""
    if sink.type == "webhook":
        return webhook.at_send(payload, message_id, now)
    if sink.type == "alertmanager":
        return alertmanager.at_send(payload, now, sink.repeat_interval_s)
    if sink.type == "pagerduty":
        return pagerduty.at_send(payload, sink.routing_key)
    if sink.type == "email":
        return {**payload, "message_id": message_id}
    return payload
