"""The PagerDuty sink's events: Events API v2 (``POST /v2/enqueue``), one event per finding.

Pure. ``dedup_key`` is the finding's fingerprint, so a repeat of a trigger lands on the open
alert, and a ``resolve`` closes exactly the alert that finding opened (which is why a
PagerDuty sink does not group). A trigger::

    {"event_action": "trigger", "dedup_key": "<fingerprint>", "client": "auditor",
     "payload": {"summary", "source", "severity", "timestamp", "component", "group", "class",
                 "custom_details"}, "links": [{"href": runbook, "text": "Runbook"}]}

``severity`` maps critical → critical, high → error, medium and low → warning, info → info.
``source`` is the finding's service (else its system), ``component`` its job name, ``group``
its system, ``class`` its kind. A resolve carries only ``event_action`` and ``dedup_key``.
``routing_key`` is a secret: it is added when the event is sent, never stored.
"""

from __future__ import annotations

from typing import Any

from auditor.alerts.formats.text import truncate
from auditor.alerts.model import AlertFinding, Event, Group, rfc3339
from auditor.findings.model import Severity

SEVERITY = {
    Severity.CRITICAL: "critical",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "info",
}
SUMMARY_LIMIT = 1024
DEDUP_LIMIT = 255


def _trigger(alert: AlertFinding) -> dict[str, Any]:
    f = alert.finding
    details = {k: v for k, v in alert.to_dict().items() if k != "evidence" and v not in ("", None)}
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": f.fingerprint[:DEDUP_LIMIT],
        "client": "auditor",
        "payload": {
            "summary": truncate(f"[{f.severity}] {f.rule_id}: {f.message}", SUMMARY_LIMIT),
            "source": f.service or f.system or "auditor",
            "severity": SEVERITY[f.severity],
            "timestamp": rfc3339(alert.opened_at),
            "component": f.job_name or f.system,
            "group": f.system,
            "class": str(f.kind),
            "custom_details": details,
        },
    }
    if alert.runbook.startswith(("http://", "https://")):
        event["links"] = [{"href": alert.runbook, "text": "Runbook"}]
    return event


def build(group: Group) -> list[dict[str, Any]]:
    if group.event is Event.RESOLVED:
        return [{"event_action": "resolve", "dedup_key": a.fingerprint} for a in group.findings]
    return [_trigger(a) for a in group.findings]


def at_send(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, **payload}
