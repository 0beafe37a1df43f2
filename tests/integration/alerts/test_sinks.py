"""Every sink against a real server standing in for its service: what arrives is that
service's documented format (the fakes answer 400 otherwise), open and resolved alike."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditor.alerts import Alerting
from auditor.store.duck import DuckStore
from tests.integration.alerts import fakes
from tests.unit.alerts.sample import RULES, Evaluations, finding

pytestmark = pytest.mark.integration

FAST = {"backoff_base_s": 0.05, "backoff_cap_s": 0.2, "poll_s": 0.05}


@contextlib.contextmanager
def alerting(tmp_path: Path, *sinks: dict[str, Any]) -> Iterator[tuple[Alerting, DuckStore]]:
    with DuckStore(tmp_path / "auditor.duckdb") as store:
        a = Alerting(store.cursor, list(sinks), rules=RULES, **FAST)
        a.start()
        try:
            yield a, store
        finally:
            a.stop()


def _open_then_resolve(a: Alerting, store: DuckStore, findings: list) -> tuple[list, list]:
    ev = Evaluations(store.cursor())
    opened, _ = ev.save(findings)
    a.enqueue(ev.con, opened, [])
    _, resolved = ev.save([])
    a.enqueue(ev.con, [], resolved)
    return opened, resolved


def _query(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the store after the test closed it."""
    with duckdb.connect(str(tmp_path / "auditor.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _outbox(tmp_path: Path) -> list[tuple[str, str, int, str]]:
    return _query(
        tmp_path,
        "SELECT event, state, attempts, coalesce(last_answer, '') FROM alert_outbox ORDER BY id",
    )


def test_webhook(tmp_path: Path) -> None:
    with (
        fakes.webhook() as hook,
        alerting(
            tmp_path,
            {"sink": "webhook", "url": hook.url("/in"), "headers": {"X-Token": "t0k3n-abc"}},
        ) as (a, store),
    ):
        _open_then_resolve(a, store, [finding(1), finding(2)])
        opened, resolved = hook.wait_for(2)
    assert [r.status for r in hook.received()] == [200, 200]
    assert opened.headers["X-Token"] == "t0k3n-abc"
    assert opened.headers["Content-Type"] == "application/json"
    assert [opened.json()["event"], resolved.json()["event"]] == ["open", "resolved"]
    assert len(opened.json()["findings"]) == 2
    assert opened.json()["id"] != resolved.json()["id"]
    assert _outbox(tmp_path) == [
        ("open", "sent", 1, "HTTP 200"),
        ("resolved", "sent", 1, "HTTP 200"),
    ]


def test_slack_one_message_per_group_at_its_pace(tmp_path: Path) -> None:
    with (
        fakes.slack() as hook,
        alerting(tmp_path, {"sink": "slack", "url": hook.url("/services/T0/B0/x")}) as (a, store),
    ):
        ev = Evaluations(store.cursor())
        opened, _ = ev.save([finding(n) for n in range(12)] + [finding(1, "payments-captured")])
        a.enqueue(ev.con, opened, [])
        first, second = hook.wait_for(2)
    assert [r.status for r in hook.received()] == [200, 200]
    assert first.json()["text"] == "Open: 1 finding of payments-captured (critical)"
    assert second.json()["text"] == "Open: 12 findings of notify-email-confirmed (high)"
    assert second.at - first.at >= 0.95  # about one message a second per webhook


def test_alertmanager_fires_then_ends(tmp_path: Path) -> None:
    with (
        fakes.Alertmanager() as am,
        alerting(tmp_path, {"sink": "alertmanager", "url": am.url("/")}) as (a, store),
    ):
        ev = Evaluations(store.cursor())
        opened, _ = ev.save([finding(1), finding(2)])
        a.enqueue(ev.con, opened, [])
        am.wait_for(1)
        firing = {dict(k)["fingerprint"]: v for k, v in am.alerts.items()}
        assert set(firing) == set(opened)
        sent_at = time.time()
        for alert in firing.values():
            assert alert["labels"]["alertname"] == "notify-email-confirmed"
            assert alert["annotations"]["runbook_url"] == "https://runbooks.example/email"
            ends = _epoch(alert["endsAt"])
            assert 200 < ends - sent_at < 280  # four repeat intervals of 1m from now
        _, resolved = ev.save([finding(1)])
        a.enqueue(ev.con, [], resolved)
        am.wait_for(2)
    (ended,) = [v for k, v in am.alerts.items() if dict(k)["fingerprint"] == resolved[0]]
    assert ended["endsAt"] == ev.now.isoformat(timespec="milliseconds") + "Z"


def _epoch(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_pagerduty_triggers_and_resolves_by_dedup_key(tmp_path: Path) -> None:
    key = "R0UT1NGKEY0123456789abcdef012345"
    with (
        fakes.pagerduty() as pd,
        alerting(
            tmp_path, {"sink": "pagerduty", "routing_key": key, "url": pd.url("/v2/enqueue")}
        ) as (a, store),
    ):
        opened, _ = _open_then_resolve(a, store, [finding(1), finding(2)])
        got = [r.json() for r in pd.wait_for(4)]
    assert [r.status for r in pd.received()] == [202] * 4
    in_job_order = [finding(1).fingerprint, finding(2).fingerprint]
    assert sorted(in_job_order) == opened
    assert [(e["event_action"], e["dedup_key"]) for e in got] == [
        *(("trigger", fp) for fp in in_job_order),
        *(("resolve", fp) for fp in in_job_order),
    ]
    assert all(e["routing_key"] == key for e in got)
    stored = _query(tmp_path, "SELECT string_agg(payload, '') FROM alert_outbox")
    assert key not in stored[0][0]  # the routing key is added when sending, never stored


def test_a_refused_payload_is_failed_not_retried(tmp_path: Path) -> None:
    with (
        fakes.HttpSink(fakes.always(400, "invalid_payload")) as hook,
        alerting(tmp_path, {"sink": "slack", "url": hook.url("/services/T0/B0/x")}) as (a, store),
    ):
        _open_then_resolve(a, store, [finding(1)])
        hook.wait_for(2, accepted=False)
        time.sleep(0.3)
        stats = a.stats()["sinks"]["slack"]
    assert len(hook.received()) == 2
    assert [(e, s, n) for e, s, n, _ in _outbox(tmp_path)] == [
        ("open", "failed", 1),
        ("resolved", "failed", 1),
    ]
    assert (stats["failed"], stats["sent"], stats["pending"]) == (2, 0, 0)
    assert stats["last_error"] == "HTTP 400: invalid_payload"


def test_errors_never_show_the_sinks_secrets(tmp_path: Path) -> None:
    secret = "T0KEN-d0nt-l0g-me-123"
    with (
        fakes.HttpSink(fakes.always(503, f"no route for /hook/{secret}")) as hook,
        alerting(tmp_path, {"sink": "webhook", "url": hook.url(f"/hook/{secret}")}) as (a, store),
    ):
        _open_then_resolve(a, store, [finding(1)])
        hook.wait_for(2, accepted=False)
        stats = a.stats()
    assert secret not in json.dumps(stats)
    errors = _query(tmp_path, "SELECT string_agg(last_error, ' ') FROM alert_outbox")
    assert "no route for /hook/***" in errors[0][0] and secret not in errors[0][0]


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "starttls-auth"])
def test_email(tmp_path: Path, secure: bool) -> None:
    tls = fakes.self_signed_certificate(tmp_path) if secure else None
    users = {"alerts": "s3cret-pw"} if secure else None
    with fakes.SmtpSink(tls=tls, users=users) as smtp:
        sink: dict[str, Any] = {
            "sink": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "auditor@example.org",
            "to": ["ops@example.org", "dev@example.org"],
            "starttls": secure,
        }
        if secure:
            assert tls is not None
            sink.update(username="alerts", password="s3cret-pw", ca_file=str(tls[0]))
        with alerting(tmp_path, sink) as (a, store):
            _open_then_resolve(a, store, [finding(1), finding(2)])
            deadline = time.monotonic() + 15
            while len(smtp.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        opened, resolved = smtp.messages
    assert opened["Subject"] == "[auditor] Open: 2 findings of notify-email-confirmed (high)"
    assert opened["From"] == "auditor@example.org"
    assert opened["To"] == "ops@example.org, dev@example.org"
    assert opened["Message-ID"].endswith("@auditor>") and opened["Date"]
    text = opened.get_payload(decode=True).decode()
    assert finding(1).fingerprint in text and finding(2).message in text
    assert resolved["Subject"].startswith("[auditor] Resolved: 2 findings")
    assert [(e, s) for e, s, _, _ in _outbox(tmp_path)] == [("open", "sent"), ("resolved", "sent")]
    assert all(answer.startswith("SMTP 250 ") for *_, answer in _outbox(tmp_path))


def test_email_with_a_wrong_password_is_refused_for_good(tmp_path: Path) -> None:
    tls = fakes.self_signed_certificate(tmp_path)
    with fakes.SmtpSink(tls=tls, users={"alerts": "right"}) as smtp:
        sink = {
            "sink": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "a@example.org",
            "to": "b@example.org",
            "username": "alerts",
            "password": "wrong-password-123",
            "ca_file": str(tls[0]),
        }
        with alerting(tmp_path, sink) as (a, store):
            ev = Evaluations(store.cursor())
            a.enqueue(ev.con, ev.save([finding(1)])[0], [])
            deadline = time.monotonic() + 10
            while a.stats()["sinks"]["email"]["failed"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            stats = a.stats()["sinks"]["email"]
    assert stats["failed"] == 1 and stats["last_answer"].startswith("SMTP 535")
    assert "wrong-password-123" not in json.dumps(stats)
    assert smtp.messages == []
