"""Delivery end to end, with real servers: each change of state told once per sink, through
sinks that fail, hang or come back, and across a stop or a SIGKILL of the dispatcher."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auditor.alerts import Alerting
from auditor.store.duck import DuckStore
from tests.integration.alerts import fakes
from tests.unit.alerts.sample import RULES, Evaluations, finding

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
FAST = {"backoff_base_s": 0.05, "backoff_cap_s": 0.3, "poll_s": 0.05}


def _ids(requests: list[fakes.Received]) -> Counter[str]:
    """How often each webhook message (by its id) was accepted."""
    return Counter(r.json()["id"] for r in requests if r.accepted)


def _wait(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_each_change_of_state_is_told_once_per_sink(tmp_path: Path) -> None:
    with (
        fakes.webhook() as hook,
        fakes.pagerduty() as pd,
        fakes.Alertmanager() as am,
        DuckStore(tmp_path / "a.duckdb") as store,
    ):
        sinks = [
            {"sink": "webhook", "url": hook.url("/in")},
            {"sink": "pagerduty", "routing_key": "k" * 32, "url": pd.url("/v2/enqueue")},
            {"sink": "alertmanager", "url": am.url(), "repeat_interval": "1h"},
        ]
        # the ticker (reconcile, repeats) runs all the time, racing the loop's enqueue
        alerting = Alerting(store.cursor, sinks, rules=RULES, tick_s=0.01, **FAST)
        alerting.start()
        con = store.cursor()
        ev = Evaluations(con)

        def evaluate(findings: list) -> None:  # what the evaluation loop does every pass
            opened, resolved = ev.save(findings)
            alerting.on_change(con, tuple(opened), tuple(resolved))
            alerting.enqueue(con, opened, resolved)  # a caller reporting twice changes nothing
            alerting.tick(con)
            time.sleep(0.05)

        evaluate([finding(1), finding(2)])  # both open
        evaluate([finding(1), finding(2)])  # no change
        evaluate([finding(1)])  # 2 resolved
        evaluate([finding(1)])  # no change
        evaluate([finding(1), finding(2)])  # 2 open again
        evaluate([])  # both resolved
        _wait(lambda: alerting.stats()["pending"] == 0)
        time.sleep(0.3)  # nothing more comes
        alerting.stop()

    events = [(r.json()["event"], len(r.json()["findings"])) for r in hook.accepted()]
    assert events == [("open", 2), ("resolved", 1), ("open", 1), ("resolved", 2)]
    assert len(hook.received()) == 4
    f1, f2 = finding(1).fingerprint, finding(2).fingerprint
    pd_events = [(e["event_action"], e["dedup_key"]) for e in (r.json() for r in pd.accepted())]
    assert Counter(pd_events) == Counter(
        {("trigger", f1): 1, ("trigger", f2): 2, ("resolve", f2): 2, ("resolve", f1): 1}
    )
    assert len(pd.received()) == 6
    assert len(am.received()) == 4 and all(r.accepted for r in am.received())


def test_a_sink_down_for_a_while_then_up_gets_each_message_once(tmp_path: Path) -> None:
    down = {"until": time.monotonic() + 1.5}

    def flaky(r: fakes.Received) -> tuple[int, str]:
        return (503, "unavailable") if time.monotonic() < down["until"] else (200, "ok")

    with fakes.webhook(then=flaky) as hook, DuckStore(tmp_path / "a.duckdb") as store:
        alerting = Alerting(
            store.cursor,
            [{"sink": "webhook", "url": hook.url("/in"), "group_by": ["fingerprint"]}],
            **FAST,
        )
        alerting.start()
        con = store.cursor()
        ev = Evaluations(con)
        opened, _ = ev.save([finding(n) for n in range(5)])
        alerting.enqueue(con, opened, [])
        time.sleep(0.5)
        _, resolved = ev.save([finding(n) for n in range(3)])  # 3 and 4 resolved, while down
        alerting.enqueue(con, [], resolved)
        _wait(lambda: alerting.stats()["pending"] == 0, timeout=30)
        stats = alerting.stats()["sinks"]["webhook"]
        alerting.stop()
    accepted = _ids(hook.received())
    assert len(accepted) == 7 and set(accepted.values()) == {1}  # each message exactly once
    assert len(hook.received()) > 7  # it was tried while down
    assert stats["sent"] == 7 and stats["retries"] == len(hook.received()) - 7
    # in order: a finding's resolve never overtakes its opening
    order = [(r.json()["event"], r.json()["findings"][0]["fingerprint"]) for r in hook.accepted()]
    for fp in resolved:
        assert order.index(("open", fp)) < order.index(("resolved", fp))


def test_a_sink_that_hangs_does_not_delay_another(tmp_path: Path) -> None:
    with (
        fakes.webhook() as slow,
        fakes.webhook() as fast,
        DuckStore(tmp_path / "a.duckdb") as store,
    ):
        slow.hold()  # answers nothing until released
        sinks = [
            {"sink": "webhook", "name": "slow", "url": slow.url("/in"), "timeout": "20s"},
            {
                "sink": "webhook",
                "name": "fast",
                "url": fast.url("/in"),
                "group_by": ["fingerprint"],
            },
        ]
        alerting = Alerting(store.cursor, sinks, **FAST)
        alerting.start()
        con = store.cursor()
        ev = Evaluations(con)
        started = time.monotonic()
        alerting.enqueue(con, ev.save([finding(1), finding(2)])[0], [])
        fast.wait_for(2, timeout=5)
        took = time.monotonic() - started
        slow.wait_for(1, accepted=False)
        assert slow.accepted() == []  # still hanging
        alerting.enqueue(con, ev.save([finding(1), finding(2), finding(3)])[0], [])
        fast.wait_for(3, timeout=5)
        slow.release()
        slow.wait_for(2)
        alerting.stop()
    assert took < 2.0


def test_stopped_mid_way_a_new_dispatcher_sends_the_rest_and_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with fakes.webhook() as hook:
        sink = [{"sink": "webhook", "url": hook.url("/in"), "group_by": ["fingerprint"]}]
        with DuckStore(db) as store:
            con = store.cursor()
            ev = Evaluations(con)
            Alerting(store.cursor, sink).enqueue(
                con, ev.save([finding(n) for n in range(6)])[0], []
            )
            hook.hold(after=2)  # two are answered, the third waits
            first = Alerting(store.cursor, sink, **FAST)
            first.start()
            hook.wait_for(3, accepted=False)
            stopping = threading.Thread(target=first.stop)
            stopping.start()
            time.sleep(0.2)
            hook.release()  # the send under way finishes and is marked before the stop ends
            stopping.join(10)
        assert len(hook.accepted()) == 3
        with DuckStore(db) as store:  # a restart: the rows are still there
            second = Alerting(store.cursor, sink, **FAST)
            assert second.depth() == {"webhook": 3}
            second.start()
            hook.wait_for(6)
            _wait(lambda: second.depth() == {"webhook": 0})
            second.stop()
        time.sleep(0.2)
    accepted = _ids(hook.received())
    assert len(accepted) == 6 and set(accepted.values()) == {1}
    assert len(hook.received()) == 6


def test_killed_while_sending_the_rest_is_sent_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    killed_at = {"t": float("inf")}

    def unless_killed(r: fakes.Received) -> tuple[int, str]:
        # a request still unanswered when its sender died is never accepted
        return (503, "sender gone") if r.at < killed_at["t"] < time.monotonic() else (200, "ok")

    with fakes.webhook(then=unless_killed) as hook:
        sink = [{"sink": "webhook", "url": hook.url("/in"), "group_by": ["fingerprint"]}]
        with DuckStore(db) as store:
            con = store.cursor()
            ev = Evaluations(con)
            Alerting(store.cursor, sink).enqueue(
                con, ev.save([finding(n) for n in range(5)])[0], []
            )
        hook.hold(after=2)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.alerts.dispatch_process",
                str(db),
                json.dumps(sink),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            hook.wait_for(3, accepted=False, timeout=30)
            assert len(hook.accepted()) == 2
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
        killed_at["t"] = time.monotonic()
        time.sleep(0.05)
        hook.release()
        with DuckStore(db) as store:
            states = store.con.execute("SELECT state FROM alert_outbox ORDER BY id").fetchall()
            assert [s for (s,) in states] == ["sent", "sent", "pending", "pending", "pending"]
            after = Alerting(store.cursor, sink, **FAST)
            after.start()
            hook.wait_for(5)
            _wait(lambda: after.depth() == {"webhook": 0})
            after.stop()
    accepted = _ids(hook.received())
    assert len(accepted) == 5 and set(accepted.values()) == {1}
    # the one cut short was sent again (at least once), under the same id
    retried = Counter(r.json()["id"] for r in hook.received())
    assert sorted(retried.values()) == [1, 1, 1, 1, 2]


def test_repeats_while_open_and_alertmanager_endsat_on_resolve(tmp_path: Path) -> None:
    with fakes.Alertmanager() as am, DuckStore(tmp_path / "a.duckdb") as store:
        alerting = Alerting(
            store.cursor,
            [{"sink": "alertmanager", "url": am.url(), "repeat_interval": "300ms"}],
            tick_s=0.05,  # the ticker repeats; nobody calls tick here
            **FAST,
        )
        alerting.start()
        con = store.cursor()
        ev = Evaluations(con)
        alerting.enqueue(con, ev.save([finding(1)])[0], [])
        time.sleep(1.6)
        _, resolved = ev.save([])
        alerting.enqueue(con, [], resolved)
        time.sleep(0.5)
        _wait(lambda: alerting.stats()["pending"] == 0)
        alerting.stop()
    bodies = [r.json()[0] for r in am.accepted()]
    firing = len(bodies) - 1  # all but the resolve: no repeat after it
    assert 3 <= firing <= 7  # the opening, then one every 300ms (fewer on a busy machine)
    assert len({b["startsAt"] for b in bodies}) == 1
    assert all("endsAt" in b for b in bodies)
    assert bodies[-1]["endsAt"] == ev.now.isoformat(timespec="milliseconds") + "Z"
    stored = duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True)
    events = stored.execute(
        "SELECT event, count(*) FROM alert_outbox GROUP BY event ORDER BY 1"
    ).fetchall()
    stored.close()
    assert events == [("open", 1), ("repeat", firing - 1), ("resolved", 1)]
