"""The Alertmanager sink's body: ``POST /api/v2/alerts`` with a JSON array of alerts.

Pure. One alert per finding, a group's alerts in one request (Alertmanager groups and
routes them itself, by its own configuration). Each alert is a ``postableAlert`` of
Alertmanager's API v2:

- ``labels`` (they identify the alert): ``alertname`` = the rule id, ``severity``, ``kind``,
  ``system``, ``job_name``, ``queue``, ``service``, ``fingerprint`` (the finding's, so each
  finding is its own alert), ``source=auditor``, then the rule's own labels (names made valid
  Prometheus label names; they never replace the ones above). Empty values are left out:
  to Alertmanager an empty label is no label.
- ``annotations``: ``summary`` (the finding's message), ``description`` (what it is about),
  ``runbook_url`` when the rule has a runbook, ``title``, ``job_id``, ``effect_key``,
  ``trace_id``.
- ``startsAt``: when the alert opened. ``endsAt``: on ``resolved``, when the finding
  resolved; while firing, set at send time to four repeat intervals ahead (as Prometheus
  does), so an alert that is no longer re-sent ends by itself whatever Alertmanager's
  ``resolve_timeout``, and one that is re-sent never does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from auditor.alerts.formats.text import subject_line
from auditor.alerts.model import AlertFinding, Event, Group, rfc3339

_INVALID = re.compile(r"[^A-Za-z0-9_]")
# endsAt of a firing alert, in repeat intervals after it is sent
ALIVE_FOR_REPEATS = 4


def label_name(name: str) -> str:
    """``name`` as a valid Prometheus label name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    name = _INVALID.sub("_", name)
    return f"_{name}" if not name or name[0].isdigit() else name


def _labels(alert: AlertFinding) -> dict[str, str]:
    f = alert.finding
    labels = {
        "alertname": f.rule_id,
        "severity": str(f.severity),
        "kind": str(f.kind),
        "system": f.system,
        "job_name": f.job_name,
        "queue": f.queue,
        "service": f.service,
        "fingerprint": f.fingerprint,
        "source": "auditor",
    }
    for name, value in f.labels:
        labels.setdefault(label_name(name), value)
    return {k: v for k, v in labels.items() if v}


def _annotations(alert: AlertFinding) -> dict[str, str]:
    f = alert.finding
    annotations = {
        "summary": f.message,
        "description": subject_line(alert),
        "title": alert.title,
        "runbook_url": alert.runbook,
        "job_id": f.job_id,
        "effect_key": f.effect_key,
        "trace_id": f.trace_id,
    }
    return {k: v for k, v in annotations.items() if v}


def _alert(alert: AlertFinding, event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": _labels(alert),
        "annotations": _annotations(alert),
        "startsAt": rfc3339(alert.opened_at),
    }
    if event is Event.RESOLVED:
        body["endsAt"] = rfc3339(alert.resolved_at or alert.last_seen)
    return body


def build(group: Group) -> list[dict[str, Any]]:
    """One request body per group. Stored as ``{"alerts": [...]}``; sent as the array."""
    return [{"alerts": [_alert(a, group.event) for a in group.findings]}]


def at_send(
    payload: dict[str, Any], now: datetime, repeat_interval_s: float
) -> list[dict[str, Any]]:
    """The array to post: firing alerts get ``endsAt`` ``ALIVE_FOR_REPEATS`` repeat intervals
    after ``now`` (none when the sink does not repeat: Alertmanager's resolve_timeout then
    ends them)."""
    alerts = []
    for alert in payload["alerts"]:
        if "endsAt" not in alert and repeat_interval_s > 0:
            ends = now + timedelta(seconds=ALIVE_FOR_REPEATS * repeat_interval_s)
            alert = {**alert, "endsAt": rfc3339(ends)}
        alerts.append(alert)
    return alerts
