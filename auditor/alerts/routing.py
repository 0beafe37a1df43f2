"""Routing and grouping: which findings a sink is told about, and in how many messages.

Pure: no I/O. ``routed`` keeps the findings a sink's route accepts (``min_severity``,
``match`` on the rule's labels, ``rules`` globs, ``kinds``, ``systems``: every condition
given must hold). ``grouped`` cuts them into groups by the sink's ``group_by`` fields, one
message per group: many findings of one rule in one evaluation make one Slack message, not
many. A group is cut further only where a sink takes structured lists (webhook,
Alertmanager: ``MAX_PER_MESSAGE`` findings a message); Slack and email list the first
findings of a large group and say how many more there are. Groups come in report order
(most severe first, then rule, …), and so do the findings inside a group.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from auditor.alerts.config import SinkConfig
from auditor.alerts.model import AlertFinding, Event, Group
from auditor.findings.model import order_key

MAX_PER_MESSAGE = {"webhook": 500, "alertmanager": 500}


def accepts(sink: SinkConfig, alert: AlertFinding) -> bool:
    f = alert.finding
    return sink.route.accepts(
        severity=f.severity,
        rule_id=f.rule_id,
        kind=str(f.kind),
        system=f.system,
        labels=dict(f.labels),
    )


def routed(sink: SinkConfig, alerts: Iterable[AlertFinding]) -> list[AlertFinding]:
    """The findings ``sink`` is told about, in report order."""
    return sorted((a for a in alerts if accepts(sink, a)), key=lambda a: order_key(a.finding))


def group_key(sink: SinkConfig, alert: AlertFinding) -> tuple[tuple[str, str], ...]:
    f = alert.finding
    return tuple((name, str(getattr(f, name))) for name in sink.group_by)


def grouped(
    sink: SinkConfig, event: Event, alerts: Iterable[AlertFinding], now: datetime
) -> list[Group]:
    """The messages ``sink`` gets for ``alerts`` (already routed) on ``event``."""
    by_key: dict[tuple[tuple[str, str], ...], list[AlertFinding]] = {}
    for alert in sorted(alerts, key=lambda a: order_key(a.finding)):
        by_key.setdefault(group_key(sink, alert), []).append(alert)
    size = MAX_PER_MESSAGE.get(sink.type)
    out: list[Group] = []
    for key, members in by_key.items():
        chunks = (
            [members]
            if size is None
            else [members[i : i + size] for i in range(0, len(members), size)]
        )
        for n, chunk in enumerate(chunks, 1):
            out.append(Group(sink, event, key, tuple(chunk), now, part=n, parts=len(chunks)))
    return out
