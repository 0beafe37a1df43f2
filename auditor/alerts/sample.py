"""``audit alerts test``: one sample alert to every configured sink, straight, not queued.

``send_samples(config, clock)`` builds a sample finding (rule ``auditor-test-alert``, severity
``info``, a message saying that no job lied), makes each sink's payload for it with the same
builders as real alerts (event ``test``) and sends it with the same senders, every sink at
once (one that hangs does not hold up the others' answers). A PagerDuty sink also gets the
``resolve`` of its sample trigger, so that the test leaves no incident open; an Alertmanager
test alert ends by itself (its ``endsAt``). Nothing is read from or written to the store.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from auditor.alerts import formats
from auditor.alerts.config import AlertsConfig, SinkConfig
from auditor.alerts.model import AlertFinding, Event, Group
from auditor.alerts.senders import Outcome, sender_for
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.findings.model import Finding, Kind, Severity, State

SAMPLE_RULE = "auditor-test-alert"


@dataclass(frozen=True)
class SampleResult:
    sink: SinkConfig
    outcomes: tuple[tuple[str, Outcome], ...]  # (what was sent, the sink's answer)

    @property
    def ok(self) -> bool:
        return all(o.ok for _, o in self.outcomes)


def sample_alert(clock: Clock = SYSTEM_CLOCK) -> AlertFinding:
    now = naive_utc(clock.now())
    stamp = now.strftime("%Y%m%dT%H%M%S")
    finding = Finding(
        rule_id=SAMPLE_RULE,
        kind=Kind.UNCONFIRMED_DONE,
        severity=Severity.INFO,
        state=State.OPEN,
        system="auditor",
        job_id=f"test-{stamp}",
        job_name="auditor.alerts.test",
        effect_key=f"test-{stamp}",
        trace_id="0" * 32,
        message="A test alert sent by `audit alerts test`: no job lied.",
        service="auditor",
    )
    return AlertFinding(
        finding, now, now, now, title="auditor test alert", runbook="docs/alerts.md"
    )


def _send(sink: SinkConfig, alert: AlertFinding, clock: Clock) -> SampleResult:
    now = naive_utc(clock.now())
    events = [Event.TEST] + ([Event.RESOLVED] if sink.type == "pagerduty" else [])
    sender = sender_for(sink, clock)
    outcomes: list[tuple[str, Outcome]] = []
    try:
        for event in events:
            resolved = alert if event is not Event.RESOLVED else AlertFinding(
                alert.finding, alert.opened_at, alert.first_seen, alert.last_seen, now,
                alert.title, alert.runbook,
            )  # fmt: skip
            group = Group(sink, event, (("rule_id", SAMPLE_RULE),), (resolved,), now)
            for payload in formats.build(group):
                message_id = f"test.{clock.now_ns() // 1_000_000}"
                body = formats.for_sending(sink, payload, message_id, clock.now())
                outcome = sender.send(body, message_id)
                outcomes.append((str(event), outcome))
                if not outcome.ok:
                    return SampleResult(sink, tuple(outcomes))
    finally:
        sender.close()
    return SampleResult(sink, tuple(outcomes))


def send_samples(
    config: AlertsConfig, clock: Clock = SYSTEM_CLOCK, only: tuple[str, ...] = ()
) -> list[SampleResult]:
    """The answer of every sink (or of the sinks named in ``only``), in configuration order."""
    sinks = [s for s in config.sinks if not only or s.name in only]
    alert = sample_alert(clock)
    with ThreadPoolExecutor(max_workers=max(1, len(sinks))) as pool:
        return list(pool.map(lambda s: _send(s, alert, clock), sinks))
