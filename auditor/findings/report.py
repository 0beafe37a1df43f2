"""The result of one evaluation, as handed to the report renderers.

Pure data. ``audit scan`` builds one ``Report`` per run; ``auditor.reports`` renders it. Its
findings are always a ``FindingTable`` (columns, in report order): the engine's table as it
is, or one made from the ``Finding`` values a caller passed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.findings.model import Finding, RuleInfo, Severity
from auditor.findings.table import FindingTable


@dataclass(frozen=True)
class CheckedJob:
    """One (rule, job) pair the evaluation judged, lie or not: JUnit's test cases."""

    rule_id: str
    system: str
    job_id: str
    job_name: str


@dataclass(frozen=True)
class Report:
    findings: Sequence[Finding]  # a FindingTable once made
    rules: dict[str, RuleInfo]
    checked: tuple[CheckedJob, ...] = ()
    inputs: tuple[str, ...] = ()  # files scanned, or the store path
    spans: int = 0  # spans in the store the rules ran over
    fail_on: Severity = Severity.LOW
    baselined: int = 0  # findings suppressed by --baseline
    jobs_checked: int | None = None  # when ``checked`` is not listed, how many were judged
    tool_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    fail_on_pending: bool = False  # pending findings (inside their grace window) fail too
    job_runs: dict[str, int] = field(default_factory=dict)  # system -> job runs recognized
    judged: dict[str, int] = field(default_factory=dict)  # rule id -> jobs it judged

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", FindingTable.of(self.findings))

    @property
    def table(self) -> FindingTable:
        return self.findings  # type: ignore[return-value]

    def is_failing(self, finding: Finding) -> bool:
        """At or above ``fail_on``, and not pending unless ``fail_on_pending``."""
        return finding.severity.at_least(self.fail_on) and (
            self.fail_on_pending or str(finding.state) != "pending"
        )

    def failing(self) -> tuple[Finding, ...]:
        """The findings that make ``audit scan`` exit 1."""
        return tuple(f for f in self.findings if self.is_failing(f))

    def failing_count(self) -> int:
        return self.table.at_least(self.fail_on, pending=self.fail_on_pending)

    def summary(self) -> dict[str, Any]:
        by_kind = Counter(self.table.counts("kind"))
        by_state = self.table.counts("state")
        by_severity = Counter(self.table.counts("severity"))
        return {
            "findings": len(self.findings),
            "failing": self.failing_count(),
            "fail_on": str(self.fail_on),
            "by_kind": dict(sorted(by_kind.items())),
            "by_severity": {str(s): by_severity[str(s)] for s in Severity if by_severity[str(s)]},
            "rules": len(self.rules),
            # (rule, job) pairs judged: listed in ``checked``, or only counted
            "jobs_checked": len(self.checked)
            if self.checked or self.jobs_checked is None
            else self.jobs_checked,
            "spans": self.spans,
            "baselined": self.baselined,
            "inputs": list(self.inputs),
            "by_state": dict(sorted(by_state.items())),
            "fail_on_pending": self.fail_on_pending,
            "job_runs": dict(sorted(self.job_runs.items())),
            "judged": dict(sorted(self.judged.items())),
        }
