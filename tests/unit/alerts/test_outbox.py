"""The outbox: each change of state queued once per sink, in one transaction with its state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pytest

from auditor.alerts import formats, outbox
from auditor.alerts.config import parse_alerts
from auditor.findings.model import State, Triage
from auditor.store.duck import DuckStore
from auditor.store.triage import mute_rule
from tests.unit.alerts.sample import RULES, Evaluations, finding

CONFIG = parse_alerts(
    [
        {"sink": "webhook", "url": "https://hooks.example/in"},
        {"sink": "slack", "url": "https://hooks.slack.example/x", "min_severity": "critical"},
        {"sink": "pagerduty", "routing_key": "R" * 32, "match": {"team": "growth"}},
    ]
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with DuckStore() as store:
        yield store.con


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int]]:
    """(sink, event, group key, number of findings) of every outbox row, in order."""
    return [
        (s, e, g, len(f))
        for s, e, g, f in con.execute(
            "SELECT sink, event, group_key, fingerprints FROM alert_outbox ORDER BY id"
        ).fetchall()
    ]


def active(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(con.execute("SELECT sink, fingerprint FROM alert_state WHERE active").fetchall())


def test_opened_findings_are_queued_per_sink_and_group(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    opened, resolved = ev.save([finding(n) for n in range(3)] + [finding(0, "payments-captured")])
    assert len(opened) == 4 and resolved == []
    added = outbox.enqueue(con, opened, resolved, CONFIG, ev.now, RULES)
    assert rows(con) == [
        ("webhook", "open", "rule_id=payments-captured", 1),
        ("webhook", "open", "rule_id=notify-email-confirmed", 3),
        ("slack", "open", "rule_id=payments-captured", 1),  # critical only
        *[("pagerduty", "open", f"fingerprint={finding(n).fingerprint}", 1) for n in (0, 1, 2)],
    ]
    assert added == 6
    assert len(active(con)) == 4 + 1 + 3
    pending = con.execute(
        "SELECT DISTINCT state, attempts, next_attempt_at = created_at FROM alert_outbox"
    ).fetchall()
    assert pending == [("pending", 0, True)]
    payload = json.loads(
        con.execute("SELECT payload FROM alert_outbox WHERE id = 1").fetchall()[0][0]
    )
    assert payload["findings"][0]["title"] == "Payments are captured once"


def test_a_transition_reported_again_queues_nothing(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1)])
    assert outbox.enqueue(con, opened, [], CONFIG, ev.now) == 2
    assert outbox.enqueue(con, opened, [], CONFIG, ev.now) == 0
    again, _ = ev.save([finding(1)])  # still open: the loop reports no transition
    assert again == [] and outbox.enqueue(con, opened, [], CONFIG, ev.now) == 0
    assert outbox.reconcile(con, CONFIG, ev.now) == 0
    assert len(rows(con)) == 2


def test_resolve_is_told_only_where_an_alert_is_open(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1), finding(2)])
    outbox.enqueue(con, opened[:1], [], CONFIG, ev.now)  # finding 2 is never told as open
    _, resolved = ev.save([])
    assert sorted(resolved) == sorted(opened)
    outbox.enqueue(con, [], resolved, CONFIG, ev.now)
    told = [r for r in rows(con) if r[1] == "resolved"]
    assert told == [
        ("webhook", "resolved", "rule_id=notify-email-confirmed", 1),
        ("pagerduty", "resolved", f"fingerprint={finding(1).fingerprint}", 1),
    ]
    assert active(con) == set()
    assert outbox.enqueue(con, [], resolved, CONFIG, ev.now) == 0  # once
    # reopened: a new alert
    reopened, _ = ev.save([finding(1)])
    assert reopened == [finding(1).fingerprint]
    assert outbox.enqueue(con, reopened, [], CONFIG, ev.now) == 2


def test_send_resolved_false_closes_the_alert_silently(con: duckdb.DuckDBPyConnection) -> None:
    config = parse_alerts([{"sink": "webhook", "url": "x", "send_resolved": False}])
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1)])
    outbox.enqueue(con, opened, [], config, ev.now)
    _, resolved = ev.save([])
    assert outbox.enqueue(con, [], resolved, config, ev.now) == 0
    assert active(con) == set() and [r[1] for r in rows(con)] == ["open"]


def test_only_open_untriaged_findings_alert(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    ev.save([finding(1, state=State.PENDING), finding(2), finding(3)])
    con.execute(
        "UPDATE findings SET triage = ? WHERE fingerprint = ?",
        [str(Triage.MUTED), finding(2).fingerprint],
    )
    every = [finding(n).fingerprint for n in (1, 2, 3)]
    outbox.enqueue(con, every, [], CONFIG, ev.now)  # a caller that reports too much
    assert {fp for _, fp in active(con)} == {finding(3).fingerprint}


def test_enqueue_is_one_transaction(con: duckdb.DuckDBPyConnection, monkeypatch) -> None:
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1)])
    real = formats.build

    def fail_for_pagerduty(group):
        if group.sink.type == "pagerduty":
            raise RuntimeError("boom")
        return real(group)

    monkeypatch.setattr(formats, "build", fail_for_pagerduty)
    with pytest.raises(RuntimeError, match="boom"):
        outbox.enqueue(con, opened, [], CONFIG, ev.now)
    assert rows(con) == [] and active(con) == set()  # nothing of the webhook's part either
    monkeypatch.setattr(formats, "build", real)
    assert outbox.enqueue(con, opened, [], CONFIG, ev.now) == 2


def test_repeats_come_after_the_interval_while_the_finding_is_open(
    con: duckdb.DuckDBPyConnection,
) -> None:
    config = parse_alerts(
        [
            {"sink": "webhook", "url": "x", "repeat_interval": "1h"},
            {"sink": "alertmanager", "url": "http://am"},  # 1m by default
            {"sink": "slack", "url": "x", "repeat_interval": 0},
        ]
    )
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1), finding(2)])
    outbox.enqueue(con, opened, [], config, ev.now)
    start = ev.now
    assert outbox.repeat_due(con, config, start + timedelta(seconds=59)) == 0
    assert outbox.repeat_due(con, config, start + timedelta(seconds=60)) == 1
    assert rows(con)[-1] == ("alertmanager", "repeat", "rule_id=notify-email-confirmed", 2)
    assert outbox.repeat_due(con, config, start + timedelta(seconds=90)) == 0
    assert outbox.repeat_due(con, config, start + timedelta(minutes=60)) == 2  # webhook and AM
    ev.now = start + timedelta(minutes=61)
    _, resolved = ev.save([finding(2)], advance_s=0)
    outbox.enqueue(con, [], resolved, config, ev.now)
    assert outbox.repeat_due(con, config, start + timedelta(minutes=62)) == 1
    last = con.execute("SELECT payload FROM alert_outbox ORDER BY id DESC LIMIT 1").fetchall()[0][0]
    (alert,) = json.loads(last)["alerts"]
    assert alert["labels"]["fingerprint"] == finding(2).fingerprint
    assert alert["startsAt"] == "2024-05-01T12:00:10.000Z"  # when it opened, every time
    assert "slack" not in {r[0] for r in rows(con) if r[1] == "repeat"}


def test_reconcile_catches_what_no_transition_reported(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    ev.save([finding(1), finding(2)])  # a crash before enqueue: nobody reported these
    assert outbox.reconcile(con, CONFIG, ev.now) == 3  # webhook group + one PagerDuty each
    assert outbox.reconcile(con, CONFIG, ev.now) == 0
    ev.save([finding(1)])  # finding 2 resolved, unreported
    assert outbox.reconcile(con, CONFIG, ev.now) == 2
    assert [r[:2] for r in rows(con)[-2:]] == [("webhook", "resolved"), ("pagerduty", "resolved")]
    # a sink added later hears of what is open
    more = parse_alerts(
        [*[{"sink": "webhook", "url": "x"}], {"sink": "webhook", "url": "y", "name": "new"}]
    )
    assert outbox.reconcile(con, more, ev.now) == 1
    assert rows(con)[-1][0] == "new"


def test_findings_of_scan_are_not_alerted_by_reconcile(con: duckdb.DuckDBPyConnection) -> None:
    ev = Evaluations(con)
    ev.save([finding(1)])
    con.execute("UPDATE findings SET origin = 'scan'")
    assert outbox.reconcile(con, CONFIG, ev.now) == 0


def test_the_dispatcher_takes_a_sinks_rows_in_order_and_old_ones_are_pruned(
    con: duckdb.DuckDBPyConnection,
) -> None:
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1), finding(2, "payments-captured")])
    outbox.enqueue(con, opened, [], CONFIG, ev.now)
    first = outbox.next_row(con, "webhook")
    assert first is not None and first.payload["findings"][0]["rule_id"] == "payments-captured"
    assert first.message_id == f"{first.id}.{1714564810000}"
    outbox.mark_retry(con, first.id, "HTTP 503", "HTTP 503: down", ev.now + timedelta(seconds=5))
    again = outbox.next_row(con, "webhook")
    assert again is not None and (again.id, again.attempts) == (first.id, 1)  # still first
    outbox.mark_sent(con, first.id, "HTTP 200", ev.now)
    second = outbox.next_row(con, "webhook")
    assert second is not None and second.id > first.id
    outbox.mark_failed(con, second.id, "HTTP 400", "HTTP 400: bad")
    assert outbox.next_row(con, "webhook") is None
    assert outbox.depth(con) == {"pagerduty": 1, "slack": 1}
    assert outbox.prune(con, ev.now + timedelta(hours=23)) == 0
    assert outbox.prune(con, ev.now + timedelta(days=1, seconds=1)) == 1  # the sent one
    assert outbox.prune(con, ev.now + timedelta(days=7, seconds=1)) == 1  # the failed one


ROUTES = [
    {},
    {"min_severity": "high"},
    {"match": {"team": ["growth", "billing"]}},
    {"match": {"team": "billing", "tier": "1"}},
    {"rules": ["notify-*", "reports-buil?"]},
    {"kinds": ["duplicate_effect"], "systems": ["celery"]},
    {"systems": ["rq"], "min_severity": "low"},
]


@pytest.mark.parametrize("route", ROUTES, ids=[json.dumps(r) for r in ROUTES])
def test_reconcile_takes_what_enqueue_takes_for_every_route(route: dict) -> None:
    from auditor.findings.model import Kind

    mix = [finding(1), finding(2, "payments-captured", kind=Kind.DUPLICATE_EFFECT),
           finding(3, "reports-built", system="rq"), finding(4, "payments-captured")]  # fmt: skip
    config = parse_alerts([{"sink": "webhook", "url": "x", "group_by": ["fingerprint"], **route}])
    told = []
    for way in ("enqueue", "reconcile"):
        with DuckStore() as store:
            ev = Evaluations(store.con)
            opened, _ = ev.save(mix)
            if way == "enqueue":
                outbox.enqueue(store.con, opened, [], config, ev.now)
            else:
                outbox.reconcile(store.con, config, ev.now)
            told.append(sorted(fp for _, fp in active(store.con)))
    assert told[0] == told[1]


def test_enqueue_and_reconcile_racing_queue_each_change_once() -> None:
    """The loop's enqueue and the ticker's reconcile run on two connections at once; when they
    decide about one finding together, DuckDB refuses one and it is run again."""
    import threading
    from collections import defaultdict

    config = parse_alerts([{"sink": "webhook", "url": "x", "group_by": ["fingerprint"]}])
    with DuckStore() as store:
        ev = Evaluations(store.cursor())
        stop, errors = threading.Event(), []

        def ticker() -> None:
            con = store.cursor()
            while not stop.wait(0.001):  # far more often than the real ticker's 10s
                try:
                    outbox.reconcile(con, config, ev.now)
                except Exception as exc:
                    errors.append(exc)
                    return

        thread = threading.Thread(target=ticker)
        thread.start()
        expected: dict[str, list[str]] = defaultdict(list)
        try:
            for n in range(30):
                opened, resolved = ev.save([finding(i) for i in range(n % 3, 5)])
                for fp in opened:
                    expected[fp].append("open")
                for fp in resolved:
                    expected[fp].append("resolved")
                outbox.enqueue(ev.con, opened, resolved, config, ev.now)
        finally:
            stop.set()
            thread.join()
        told: dict[str, list[str]] = defaultdict(list)
        for fp, event in store.con.execute(
            "SELECT fingerprints[1], event FROM alert_outbox ORDER BY id"
        ).fetchall():
            told[fp].append(event)
    assert errors == []
    assert told == expected


def test_a_muted_rule_alerts_nothing_while_muted_and_what_is_open_after(
    con: duckdb.DuckDBPyConnection,
) -> None:
    ev = Evaluations(con)
    opened, _ = ev.save([finding(1), finding(2)])
    mute_rule(con, finding(1).rule_id, 600, author="ana", note="deploy", now=ev.now)
    # the stored triage stays the person's ("new"); the mute makes it read as muted
    assert outbox.enqueue(con, opened, [], CONFIG, ev.now) == 0
    assert outbox.reconcile(con, CONFIG, ev.now) == 0
    assert rows(con) == [] and active(con) == set()
    triage = con.execute("SELECT DISTINCT triage FROM findings").fetchall()
    assert triage == [(str(Triage.NEW),)]
    # the mute ends: what is still open is told
    later = ev.now + timedelta(seconds=601)
    assert outbox.reconcile(con, CONFIG, later) == 3
    assert {fp for _, fp in active(con)} == {finding(1).fingerprint, finding(2).fingerprint}
