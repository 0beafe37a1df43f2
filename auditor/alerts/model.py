"""What an alert is made of, as frozen values: the finding as alerted, a group, a message.

Pure: no I/O. An ``AlertFinding`` is a stored finding (``auditor.findings.model.Finding``, the
same fields as ``audit scan --format json``) with what alerting adds: when its alert opened,
when it was first and last seen, when it resolved, its rule's title and runbook. A ``Group``
is what one message to one sink is about: an ``Event`` and the findings of one group key. A
``Message`` is one row of the outbox: a payload for one sink, built from one group.

Times are naive UTC ``datetime`` values (what the store's ``TIMESTAMP`` columns hold);
``rfc3339`` writes them as sinks expect them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from auditor.alerts.config import SinkConfig
from auditor.findings.model import Finding, SpanRef


class Event(StrEnum):
    OPEN = "open"  # the finding became open: past its grace window, a lie
    REPEAT = "repeat"  # still open, told again after repeat_interval
    RESOLVED = "resolved"  # no longer produced (its confirmation arrived)
    TEST = "test"  # audit alerts test: a sample, not a finding

    @property
    def firing(self) -> bool:
        return self is not Event.RESOLVED


def rfc3339(moment: datetime) -> str:
    """A naive UTC (or aware) ``datetime`` as RFC 3339 in UTC, to the millisecond."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


_FINDING_FIELDS = tuple(f.name for f in fields(Finding))
_SPAN_FIELDS = tuple(f.name for f in fields(SpanRef))
_ENUMS = ("kind", "severity", "state", "triage")


def finding_dict(finding: Finding) -> dict[str, Any]:
    """``finding.to_dict()`` with JSON types (a list of evidence), without ``asdict``'s
    deep copies: an alert for thousands of findings makes thousands of these."""
    d = {name: getattr(finding, name) for name in _FINDING_FIELDS}
    for name in _ENUMS:
        d[name] = str(d[name])
    d["evidence"] = [{k: getattr(e, k) for k in _SPAN_FIELDS} for e in finding.evidence]
    d["labels"] = dict(finding.labels)
    return d


@dataclass(frozen=True)
class AlertFinding:
    finding: Finding
    opened_at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    title: str = ""  # the rule's title ("" when unknown)
    runbook: str = ""

    @property
    def fingerprint(self) -> str:
        return self.finding.fingerprint

    @cached_property
    def _finding_dict(self) -> dict[str, Any]:
        return finding_dict(self.finding)

    def to_dict(self) -> dict[str, Any]:
        """``Finding.to_dict()`` (JSON-ready) and the alert's own fields (added, never
        renamed). A new dict each call; the finding's part is made once."""
        return {
            **self._finding_dict,
            "evidence": [dict(e) for e in self._finding_dict["evidence"]],
            "labels": dict(self._finding_dict["labels"]),
            "title": self.title,
            "runbook": self.runbook,
            "opened_at": rfc3339(self.opened_at),
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "resolved_at": rfc3339(self.resolved_at) if self.resolved_at else None,
        }


@dataclass(frozen=True)
class Group:
    """The findings of one message: one sink, one event, one value of the sink's group_by."""

    sink: SinkConfig
    event: Event
    key: tuple[tuple[str, str], ...]  # (group_by field, value), in group_by order
    findings: tuple[AlertFinding, ...]
    created_at: datetime
    part: int = 1  # a large group is cut into several messages, numbered from 1
    parts: int = 1

    @property
    def key_text(self) -> str:
        """The group key as one string: ``rule_id=notify-email``; ``*`` when not grouped."""
        text = ",".join(f"{k}={v}" for k, v in self.key) or "*"
        return text if self.parts == 1 else f"{text}#{self.part}/{self.parts}"

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.finding.rule_id for f in self.findings))

    @property
    def highest(self) -> AlertFinding:
        """The most severe finding (the first in report order)."""
        return max(self.findings, key=lambda f: f.finding.severity.rank)


@dataclass(frozen=True)
class Message:
    """One outbox row: the payload for one sink, as built when the alert was decided."""

    sink: str
    sink_type: str
    event: Event
    group_key: str
    fingerprints: tuple[str, ...]
    payload: dict[str, Any]
