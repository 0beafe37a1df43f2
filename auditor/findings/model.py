"""The finding model: what a violated rule produces, as frozen values.

Pure: no I/O. Built by the evaluator from query rows, rendered by ``auditor.reports``,
kept in the store, shown in the TUI and sent by alert sinks. The JSON form
(``Finding.to_dict``) is a user-facing contract (docs/design.md, ``audit scan --format json``):
fields may be added, never renamed.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    UNCONFIRMED_DONE = "unconfirmed_done"
    PREMATURE_DONE = "premature_done"
    DUPLICATE_EFFECT = "duplicate_effect"
    FAILED_EFFECT = "failed_effect"
    LOST_JOB = "lost_job"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class State(StrEnum):
    PENDING = "pending"  # inside the grace window: the confirmation may still arrive
    OPEN = "open"
    RESOLVED = "resolved"


class Triage(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    FALSE_POSITIVE = "false_positive"
    MUTED = "muted"


@dataclass(frozen=True)
class SpanRef:
    """One span shown as evidence, with why it is shown (``role``)."""

    role: str  # job_run | enqueue | effect | failed_span | nearest_miss | signal
    trace_id: str
    span_id: str
    name: str
    service: str = ""
    start_ns: int | None = None
    end_ns: int | None = None
    status: str = ""
    note: str = ""  # e.g. "side_effect.key is ORD-1002, expected ORD-1001"


@dataclass(frozen=True)
class RuleInfo:
    """What reports need to know of a rule, without depending on the rule model."""

    id: str
    title: str
    severity: Severity
    description: str = ""
    runbook: str = ""
    source: str = ""  # file the rule came from ("" for generated rules)
    line: int = 0
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Finding:
    rule_id: str
    kind: Kind
    severity: Severity
    state: State
    system: str
    job_id: str
    job_name: str
    effect_key: str
    trace_id: str
    message: str
    span_id: str = ""
    queue: str = ""
    attempt: int | None = None
    done_at_ns: int | None = None
    effect_name: str = ""
    service: str = ""
    triage: Triage = Triage.NEW
    evidence: tuple[SpanRef, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    fingerprint: str = field(default="")

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(
                self,
                "fingerprint",
                fingerprint(self.rule_id, self.kind, self.system, self.job_id, self.effect_key),
            )

    def with_evidence(self, evidence: tuple[SpanRef, ...]) -> Finding:
        """This finding with ``evidence``: ``dataclasses.replace`` without running
        ``__init__`` again (an evaluation attaches evidence to thousands of findings)."""
        out = object.__new__(Finding)
        out.__dict__.update(self.__dict__, evidence=evidence)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = str(self.kind)
        d["severity"] = str(self.severity)
        d["state"] = str(self.state)
        d["triage"] = str(self.triage)
        d["labels"] = dict(self.labels)
        return d


def order_key(f: Finding) -> tuple[object, ...]:
    """The order of every report: most severe first, then rule, kind, system, job, key and
    fingerprint (a total order, so output is deterministic). The engine sorts its SQL rows
    the same way."""
    return (-f.severity.rank, f.rule_id, str(f.kind), f.system, f.job_id, f.effect_key,
            f.fingerprint)  # fmt: skip


def fingerprint(rule_id: str, kind: Kind | str, system: str, job_id: str, effect_key: str) -> str:
    """Stable identity of a finding across runs: rule, kind and its subject.

    The subject is the job (system + job id) for job-centred kinds and the effect key for
    ``duplicate_effect``, whose subject is the side effect, whichever jobs performed it.
    """
    kind = Kind(kind)
    subject = f"key:{effect_key}" if kind is Kind.DUPLICATE_EFFECT else f"job:{system}:{job_id}"
    digest = hashlib.sha256(f"{rule_id}\x1f{kind}\x1f{subject}".encode()).hexdigest()
    return digest[:20]
