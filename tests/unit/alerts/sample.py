"""Findings, rules and stores for the alerting tests.

``finding(n, …)`` makes the n-th finding of a rule; ``Evaluations`` saves findings into a
store the way the sidecar's evaluation loop does (``save_findings``, origin ``serve``) and
returns the fingerprints that opened and resolved, which is what the loop hands to
``Alerting.enqueue``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from auditor.findings.model import Finding, Kind, RuleInfo, Severity, SpanRef, State
from auditor.store.findings import save_findings

T0 = datetime(2024, 5, 1, 12, 0, 0)
# one sink of each type, with only what each requires
EVERY_SINK = [
    {"sink": "webhook", "url": "https://hooks.example/in"},
    {"sink": "slack", "url": "https://hooks.slack.example/T/B/x"},
    {"sink": "alertmanager", "url": "http://alertmanager:9093/"},
    {"sink": "pagerduty", "routing_key": "R" * 32},
    {"sink": "email", "host": "smtp.example", "from": "a@example.org", "to": "b@x.org"},
]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

RULES = {
    "notify-email-confirmed": RuleInfo(
        id="notify-email-confirmed",
        title="Notification emails are accepted by the relay",
        severity=Severity.HIGH,
        runbook="https://runbooks.example/email",
        labels=(("team", "growth"),),
    ),
    "payments-captured": RuleInfo(
        id="payments-captured",
        title="Payments are captured once",
        severity=Severity.CRITICAL,
        runbook="https://runbooks.example/payments",
        labels=(("team", "billing"), ("tier", "1")),
    ),
    "reports-built": RuleInfo(id="reports-built", title="Reports are built", severity=Severity.LOW),
}


def finding(
    n: int,
    rule_id: str = "notify-email-confirmed",
    *,
    state: State = State.OPEN,
    kind: Kind = Kind.UNCONFIRMED_DONE,
    system: str = "celery",
    message: str = "",
) -> Finding:
    rule = RULES[rule_id]
    return Finding(
        rule_id=rule_id,
        kind=kind,
        severity=rule.severity,
        state=state,
        system=system,
        job_id=f"job-{n}",
        job_name="tasks.send_email" if rule_id.startswith("notify") else f"tasks.{rule_id}",
        effect_key=f"ORD-{1000 + n}",
        trace_id=TRACE,
        span_id=f"{n:016x}",
        queue="mail",
        attempt=1,
        done_at_ns=1_714_564_800_000_000_000 + n,
        effect_name="email.sent",
        service="worker",
        message=message
        or f"job-{n} said done at 12:00:0{n % 10}; no email.sent confirmation arrived",
        evidence=(SpanRef("job_run", TRACE, f"{n:016x}", "run/tasks.send_email", "worker"),),
        labels=rule.labels,
    )


class Evaluations:
    """Findings saved as the evaluation loop saves them, and the transitions it reports."""

    def __init__(self, con: duckdb.DuckDBPyConnection, now: datetime = T0) -> None:
        self.con = con
        self.now = now

    def states(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT fingerprint, state FROM findings").fetchall())

    def save(
        self, findings: list[Finding], rule_ids: list[str] | None = None, advance_s: float = 10.0
    ) -> tuple[list[str], list[str]]:
        """Save one evaluation's findings; (opened, resolved) fingerprints."""
        before = self.states()
        self.now += timedelta(seconds=advance_s)
        save_findings(self.con, findings, "serve", self.now, rule_ids or list(RULES))
        after = self.states()
        opened = [fp for fp, s in after.items() if s == "open" and before.get(fp) != "open"]
        resolved = [
            fp for fp, s in after.items() if s == "resolved" and before.get(fp) != "resolved"
        ]
        return sorted(opened), sorted(resolved)
