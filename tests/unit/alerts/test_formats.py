"""Each sink's payload, checked against that service's documented format (``schemas``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from auditor.alerts import formats
from auditor.alerts.config import parse_alerts
from auditor.alerts.model import AlertFinding, Event, Group
from auditor.findings.model import Finding
from auditor.findings.table import finding_json
from tests.unit.alerts import schemas
from tests.unit.alerts.sample import EVERY_SINK, RULES, T0, finding

NASTY = "done <b>&</b> `x` *y* | 100% \u2014 " + "very long " * 600  # 6000 characters
SINKS = parse_alerts(EVERY_SINK)
SCHEMAS = {
    "webhook": schemas.WEBHOOK,
    "slack": schemas.SLACK,
    "alertmanager": schemas.ALERTMANAGER,
    "pagerduty": schemas.PAGERDUTY,
}
RESOLVED_AT = T0 + timedelta(minutes=7)


def _alert(f: Finding, resolved: bool = False) -> AlertFinding:
    info = RULES[f.rule_id]
    return AlertFinding(
        f,
        T0,
        T0 - timedelta(minutes=5),
        T0,
        RESOLVED_AT if resolved else None,
        info.title,
        info.runbook,
    )


def _bodies(sink_type: str, event: Event, alerts: list[AlertFinding]) -> list[Any]:
    sink = next(s for s in SINKS.sinks if s.type == sink_type)
    group = Group(sink, event, (("rule_id", alerts[0].finding.rule_id),), tuple(alerts), T0)
    return [formats.for_sending(sink, p, "42.1714564800000", T0) for p in formats.build(group)]


CASES = [
    [_alert(finding(1))],
    [_alert(finding(n)) for n in range(60)],  # more than Slack shows, more than 50 blocks' worth
    [_alert(finding(1, message=NASTY))],
    [_alert(finding(1, "payments-captured"))],
    [_alert(finding(1, "reports-built"))],  # no labels, no runbook
]


@pytest.mark.parametrize("sink_type", list(SCHEMAS))
@pytest.mark.parametrize("event", [Event.OPEN, Event.REPEAT, Event.RESOLVED, Event.TEST])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_payload_is_of_the_documented_format(sink_type: str, event: Event, case: int) -> None:
    alerts = [_alert(a.finding, resolved=event is Event.RESOLVED) for a in CASES[case]]
    for body in _bodies(sink_type, event, alerts):
        assert schemas.problems(body, SCHEMAS[sink_type]) == []


def test_webhook_document_carries_the_json_finding_fields_and_the_message_id() -> None:
    (body,) = _bodies("webhook", Event.RESOLVED, [_alert(finding(1), resolved=True)])
    assert body["id"] == "42.1714564800000" and body["event"] == "resolved"
    assert body["group"] == {
        "key": "rule_id=notify-email-confirmed",
        "labels": {"rule_id": "notify-email-confirmed"},
    }
    (f,) = body["findings"]
    expected = json.loads(finding_json(finding(1)))  # a finding of audit scan --format json
    assert {k: f[k] for k in expected} == expected
    assert f["resolved_at"] == "2024-05-01T12:07:00.000Z"
    assert f["runbook"] == "https://runbooks.example/email"
    assert body["summary"] == "Resolved: 1 finding of notify-email-confirmed (high)"


def test_alertmanager_labels_identify_each_finding_and_endsat_follows_the_state() -> None:
    (firing,) = _bodies("alertmanager", Event.OPEN, [_alert(finding(1, "payments-captured"))])
    (alert,) = firing
    assert alert["labels"] == {
        "alertname": "payments-captured",
        "severity": "critical",
        "kind": "unconfirmed_done",
        "system": "celery",
        "job_name": "tasks.payments-captured",
        "queue": "mail",
        "service": "worker",
        "fingerprint": finding(1, "payments-captured").fingerprint,
        "source": "auditor",
        "team": "billing",
        "tier": "1",
    }
    assert alert["annotations"]["summary"] == finding(1, "payments-captured").message
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example/payments"
    assert alert["startsAt"] == "2024-05-01T12:00:00.000Z"
    # firing: alive for four repeat intervals (1m) from the moment it is sent
    assert alert["endsAt"] == "2024-05-01T12:04:00.000Z"
    (resolved,) = _bodies("alertmanager", Event.RESOLVED, [_alert(finding(1), resolved=True)])
    assert resolved[0]["endsAt"] == "2024-05-01T12:07:00.000Z"


def test_alertmanager_label_names_are_made_valid_and_never_replace_ours() -> None:
    f = finding(1)
    odd = Finding(
        **{
            **{k: getattr(f, k) for k in f.__dataclass_fields__ if k != "fingerprint"},
            "labels": (("tier.level", "2"), ("1x", "y"), ("severity", "low"), ("empty", "")),
        }
    )
    ((alert,),) = _bodies("alertmanager", Event.OPEN, [_alert(odd)])
    assert alert["labels"]["tier_level"] == "2" and alert["labels"]["_1x"] == "y"
    assert alert["labels"]["severity"] == "high" and "empty" not in alert["labels"]
    assert schemas.problems([alert], schemas.ALERTMANAGER) == []


def test_pagerduty_triggers_and_resolves_each_finding_by_its_fingerprint() -> None:
    alerts = [_alert(finding(n)) for n in range(3)]
    triggers = _bodies("pagerduty", Event.OPEN, alerts)
    assert [t["dedup_key"] for t in triggers] == [a.fingerprint for a in alerts]
    first = triggers[0]
    assert first["routing_key"] == "R" * 32 and first["event_action"] == "trigger"
    assert first["payload"]["severity"] == "error"  # high
    assert (
        first["payload"]["source"] == "worker" and first["payload"]["class"] == "unconfirmed_done"
    )
    assert first["payload"]["custom_details"]["job_id"] == "job-0"
    assert first["links"] == [{"href": "https://runbooks.example/email", "text": "Runbook"}]
    resolves = _bodies("pagerduty", Event.RESOLVED, [_alert(a.finding, True) for a in alerts])
    assert resolves == [
        {"routing_key": "R" * 32, "event_action": "resolve", "dedup_key": a.fingerprint}
        for a in alerts
    ]
    severities = {
        r: _bodies("pagerduty", Event.OPEN, [_alert(finding(1, r))])[0]["payload"]["severity"]
        for r in RULES
    }
    assert severities == {
        "notify-email-confirmed": "error",
        "payments-captured": "critical",
        "reports-built": "warning",
    }


def test_slack_lists_the_first_findings_escaped_and_says_how_many_more() -> None:
    (many,) = _bodies("slack", Event.OPEN, [_alert(finding(n)) for n in range(60)])
    assert many["text"] == "Open: 60 findings of notify-email-confirmed (high)"
    header, about, listing, context = many["blocks"]
    assert (
        header["text"]["text"]
        == ":rotating_light: Open: 60 findings of notify-email-confirmed (high)"
    )
    assert "Notification emails are accepted by the relay" in about["text"]["text"]
    assert "https://runbooks.example/email" in about["text"]["text"]
    assert listing["text"]["text"].count("•") == 10
    assert context["elements"][0]["text"].startswith("and 50 more findings")
    (nasty,) = _bodies("slack", Event.OPEN, [_alert(finding(1, message=NASTY))])
    text = nasty["blocks"][2]["text"]["text"]
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in text and "<b>" not in text


def test_email_names_the_rule_and_lists_every_finding() -> None:
    (mail,) = _bodies("email", Event.OPEN, [_alert(finding(n)) for n in range(3)])
    assert mail["subject"] == "[auditor] Open: 3 findings of notify-email-confirmed (high)"
    assert mail["message_id"] == "42.1714564800000"
    text = mail["text"]
    assert "Rule: notify-email-confirmed — Notification emails are accepted by the relay" in text
    assert "Runbook: https://runbooks.example/email" in text
    for n in range(3):
        assert (
            f"- [high] unconfirmed_done · celery tasks.send_email job job-{n} · key ORD-100{n}"
            in text
        )
        assert finding(n).fingerprint in text
    (resolved,) = _bodies("email", Event.RESOLVED, [_alert(finding(1), resolved=True)])
    assert resolved["subject"].startswith("[auditor] Resolved: 1 finding")
    assert "resolved 2024-05-01T12:07:00.000Z" in resolved["text"]
