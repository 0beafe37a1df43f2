"""Routing and grouping, pure: which sink hears of which finding, and in how many messages."""

from __future__ import annotations

from auditor.alerts.config import parse_alerts
from auditor.alerts.model import AlertFinding, Event
from auditor.alerts.routing import MAX_PER_MESSAGE, grouped, routed
from auditor.findings.model import Finding, Kind
from tests.unit.alerts.sample import RULES, T0, finding


def _alert(f: Finding) -> AlertFinding:
    info = RULES[f.rule_id]
    return AlertFinding(f, T0, T0, T0, title=info.title, runbook=info.runbook)


ALERTS = [
    *(_alert(finding(n)) for n in range(3)),  # notify: high, team growth
    *(_alert(finding(n, "payments-captured", kind=Kind.DUPLICATE_EFFECT)) for n in range(2)),
    _alert(finding(9, "reports-built", system="rq")),  # low, no labels
]


def _sink(**entry: object):
    return parse_alerts([{"sink": "webhook", "url": "x", **entry}]).sinks[0]


def _routed(**entry: object) -> list[str]:
    return [a.finding.rule_id + ":" + a.finding.job_id for a in routed(_sink(**entry), ALERTS)]


def test_without_conditions_a_sink_hears_of_everything_most_severe_first() -> None:
    assert _routed() == [
        "payments-captured:job-0",
        "payments-captured:job-1",
        "notify-email-confirmed:job-0",
        "notify-email-confirmed:job-1",
        "notify-email-confirmed:job-2",
        "reports-built:job-9",
    ]


def test_each_condition_narrows_and_all_must_hold() -> None:
    assert len(_routed(min_severity="high")) == 5
    assert len(_routed(min_severity="critical")) == 2
    assert _routed(match={"team": "growth"}) == [
        f"notify-email-confirmed:job-{n}" for n in range(3)
    ]
    assert len(_routed(match={"team": ["growth", "billing"]})) == 5
    assert _routed(match={"team": "billing", "tier": "1"}) == [
        "payments-captured:job-0",
        "payments-captured:job-1",
    ]
    assert _routed(match={"team": "billing", "tier": "2"}) == []
    assert _routed(rules=["reports-*"]) == ["reports-built:job-9"]
    assert len(_routed(kinds=["duplicate_effect"])) == 2
    assert _routed(systems=["rq"]) == ["reports-built:job-9"]
    assert _routed(systems=["rq"], min_severity="high") == []


def test_one_message_per_rule_by_default() -> None:
    sink = _sink()
    groups = grouped(sink, Event.OPEN, routed(sink, ALERTS), T0)
    assert [(g.key_text, len(g.findings)) for g in groups] == [
        ("rule_id=payments-captured", 2),
        ("rule_id=notify-email-confirmed", 3),
        ("rule_id=reports-built", 1),
    ]
    assert all(g.event is Event.OPEN and g.created_at == T0 for g in groups)


def test_group_by_other_fields_one_per_finding_or_everything_at_once() -> None:
    for group_by, expected in (
        (["system"], ["system=celery", "system=rq"]),
        (
            ["severity", "kind"],
            [
                "severity=critical,kind=duplicate_effect",
                "severity=high,kind=unconfirmed_done",
                "severity=low,kind=unconfirmed_done",
            ],
        ),
        ([], ["*"]),
    ):
        sink = _sink(group_by=group_by)
        assert [g.key_text for g in grouped(sink, Event.OPEN, ALERTS, T0)] == expected
    sink = _sink(group_by=["fingerprint"])
    assert [len(g.findings) for g in grouped(sink, Event.OPEN, ALERTS, T0)] == [1] * 6


def test_pagerduty_tells_each_finding_on_its_own() -> None:
    (sink,) = parse_alerts([{"sink": "pagerduty", "routing_key": "k"}]).sinks
    groups = grouped(sink, Event.OPEN, ALERTS, T0)
    assert len(groups) == 6 and {len(g.findings) for g in groups} == {1}


def test_a_huge_group_is_cut_for_structured_sinks_only() -> None:
    many = [_alert(finding(n)) for n in range(MAX_PER_MESSAGE["webhook"] + 3)]
    parts = grouped(_sink(), Event.OPEN, many, T0)
    assert [len(g.findings) for g in parts] == [MAX_PER_MESSAGE["webhook"], 3]
    assert [g.key_text for g in parts] == [
        "rule_id=notify-email-confirmed#1/2",
        "rule_id=notify-email-confirmed#2/2",
    ]
    (slack,) = parse_alerts([{"sink": "slack", "url": "x"}]).sinks
    assert len(grouped(slack, Event.OPEN, many, T0)) == 1
