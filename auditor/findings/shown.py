"""One finding as a person reads it (``audit show``, and the TUI's detail): the finding, its
rule, and the spans of its trace. Pure data; the engine fills it, ``reports.show`` draws it."""

from __future__ import annotations

from dataclasses import dataclass

from auditor.findings.model import Finding, RuleInfo


@dataclass(frozen=True)
class TraceSpan:
    """One span of a finding's trace."""

    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    status_message: str


@dataclass(frozen=True)
class Shown:
    finding: Finding
    rule: RuleInfo
    trace: tuple[TraceSpan, ...]
