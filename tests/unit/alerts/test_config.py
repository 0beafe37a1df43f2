"""The ``alerts:`` list: defaults, names, every mistake located in audit.yaml, secrets hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.alerts.config import (
    ALERTMANAGER_REPEAT_S,
    DEFAULT_REPEAT_S,
    PAGERDUTY_URL,
    parse_alerts,
)
from auditor.config import load_settings
from auditor.errors import ConfigError
from auditor.findings.model import Severity
from tests.unit.alerts.sample import EVERY_SINK


def _load(tmp_path: Path, text: str, **environ: str) -> tuple:
    path = tmp_path / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ=environ).alerts


def test_every_sink_gets_its_defaults() -> None:
    config = parse_alerts(EVERY_SINK)
    webhook, slack, am, pd, mail = config.sinks
    assert [s.name for s in config.sinks] == [
        "webhook",
        "slack",
        "alertmanager",
        "pagerduty",
        "email",
    ]
    assert webhook.group_by == ("rule_id",) and webhook.send_resolved
    assert webhook.route.min_severity is Severity.INFO
    assert webhook.repeat_interval_s == DEFAULT_REPEAT_S == 4 * 3600
    # Alertmanager forgets alerts that are not re-sent: its default stays well inside 5m
    assert am.repeat_interval_s == ALERTMANAGER_REPEAT_S <= 150
    assert am.url == "http://alertmanager:9093/api/v2/alerts"
    assert pd.url == PAGERDUTY_URL and pd.group_by == ("fingerprint",)
    assert slack.min_send_interval_s == 1.0
    assert mail.email is not None
    assert (mail.email.port, mail.email.starttls, mail.email.to) == (587, True, ("b@x.org",))


def test_sinks_without_a_name_are_numbered_per_type_and_names_are_unique() -> None:
    config = parse_alerts(
        [
            {"sink": "slack", "url": "https://a"},
            {"sink": "slack", "url": "https://b", "name": "billing"},
            {"sink": "slack", "url": "https://c"},
        ]
    )
    assert [s.name for s in config.sinks] == ["slack", "billing", "slack-2"]
    with pytest.raises(ConfigError, match="two sinks are named 'slack'"):
        parse_alerts(
            [
                {"sink": "slack", "url": "https://a"},
                {"sink": "webhook", "url": "x", "name": "slack"},
            ]
        )


def test_a_file_is_checked_with_every_mistake_at_its_line(tmp_path: Path) -> None:
    text = """\
alerts:
  - sink: slack
    url: https://hooks.example
    routing_key: abc
  - sink: pagerduty
    group_by: [rule_id]
  - sink: email
    host: smtp.example
    from: a@example.org
    to: [b@example.org]
    repeat_interval: soon
  - sink: webhok
    url: x
  - sink: webhook
    url: x
    min_severity: hgih
    kinds: [lost]
"""
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    lines = str(caught.value).splitlines()
    where = str(tmp_path / "audit.yaml")
    assert f"{where}:4:18: alerts[0].routing_key is not a key of a slack sink" in lines
    assert f"{where}:5:5: alerts[1] is missing 'routing_key'" in lines
    assert f"{where}:6:15: alerts[1].group_by is not a key of a pagerduty sink" in lines
    assert any(
        line.startswith(f"{where}:11:22: alerts[2].repeat_interval must be a duration")
        for line in lines
    )
    assert any(":12:11:" in line and "did you mean 'webhook'?" in line for line in lines)
    assert any(":16:19:" in line and "did you mean 'high'?" in line for line in lines)
    assert any(":17:13:" in line and "alerts[4].kinds[0]" in line for line in lines)


def test_secrets_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    alerts = _load(
        tmp_path,
        """\
alerts:
  - {sink: slack, url: "https://hooks.slack.example/services/T0/B0/${SLACK_TOKEN}"}
  - {sink: pagerduty, routing_key: "${PD_KEY}"}
  - {sink: webhook, url: "https://hooks.example/in", headers: {Authorization: "Bearer ${TOKEN}"}}
  - {sink: email, host: smtp, from: a@x.org, to: b@x.org, username: me, password: "${PASS}"}
""",
        SLACK_TOKEN="xoxb-slack-secret-1234",
        PD_KEY="R0UT1NGKEY0123456789abcdef012345",
        TOKEN="bearer-secret-5678",
        PASS="hunter2hunter2",
    )
    config = parse_alerts(alerts)
    shown = repr(config)
    for secret in ("xoxb-slack-secret-1234", "R0UT1NGKEY", "bearer-secret-5678", "hunter2"):
        assert secret not in shown
    slack, pd, webhook, mail = config.sinks
    assert slack.redact(f"POST {slack.url} failed") == "POST *** failed"
    assert "xoxb" not in slack.redact("token xoxb-slack-secret-1234 refused")
    assert pd.redact("key R0UT1NGKEY0123456789abcdef012345 unknown") == "key *** unknown"
    assert webhook.redact("Authorization: Bearer bearer-secret-5678") == "Authorization: ***"
    assert mail.redact("535 hunter2hunter2 rejected") == "535 *** rejected"


def test_a_missing_variable_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"audit.yaml:2:26: environment variable HOOK is not set"):
        _load(tmp_path, 'alerts:\n  - {sink: webhook, url: "${HOOK}"}\n')


def test_routes_read_labels_rules_kinds_and_systems() -> None:
    (sink,) = parse_alerts(
        [
            {
                "sink": "webhook",
                "url": "x",
                "min_severity": "high",
                "match": {"team": ["growth", "ops"]},
                "rules": ["notify-*"],
                "kinds": ["unconfirmed_done"],
                "systems": ["celery"],
            }
        ]
    ).sinks
    route = sink.route
    ok = {
        "severity": Severity.HIGH,
        "rule_id": "notify-email",
        "kind": "unconfirmed_done",
        "system": "celery",
        "labels": {"team": "ops"},
    }
    assert route.accepts(**ok)
    assert not route.accepts(**{**ok, "severity": Severity.MEDIUM})
    assert route.accepts(**{**ok, "severity": Severity.CRITICAL})
    assert not route.accepts(**{**ok, "rule_id": "payments"})
    assert not route.accepts(**{**ok, "kind": "lost_job"})
    assert not route.accepts(**{**ok, "system": "rq"})
    assert not route.accepts(**{**ok, "labels": {"team": "billing"}})
    assert not route.accepts(**{**ok, "labels": {}})
