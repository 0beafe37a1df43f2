"""The dispatcher's decisions with a fixed clock and scripted answers: what counts as sent,
when a message is tried again, when it is given up. (Real sinks: tests/integration/alerts.)"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from auditor.alerts import Alerting
from auditor.alerts.config import SinkConfig, parse_alerts
from auditor.alerts.dispatcher import Dispatcher
from auditor.alerts.senders import Outcome
from auditor.clock import Clock, FixedClock, naive_utc
from auditor.store.duck import DuckStore
from tests.unit.alerts.sample import T0, Evaluations, finding

OK = Outcome(True, "HTTP 200")
DOWN = Outcome(False, "HTTP 503", "HTTP 503: down", retry=True)
LIMITED = Outcome(False, "HTTP 429", "HTTP 429: slow down", retry=True, retry_after_s=30.0)
REFUSED = Outcome(False, "HTTP 400", "HTTP 400: invalid", retry=False)


class Scripted:
    """A sender that answers from a script (then OK), recording what it was given."""

    def __init__(self, script: list[Outcome], sent: list[tuple[str, Any]]) -> None:
        self.script, self.sent = script, sent

    def send(self, body: Any, message_id: str) -> Outcome:
        self.sent.append((message_id, body))
        return self.script.pop(0) if self.script else OK

    def close(self) -> None:
        pass


@pytest.fixture
def store() -> Iterator[DuckStore]:
    with DuckStore() as s:
        yield s


def _setup(store: DuckStore, script: list[Outcome], **entry: Any):
    clock = FixedClock.at(T0)
    sent: list[tuple[str, Any]] = []

    def factory(sink: SinkConfig, c: Clock) -> Scripted:
        return Scripted(script, sent)

    alerting = Alerting(
        store.cursor,
        [{"sink": "webhook", "url": "x", **entry}],
        clock,
        rng=random.Random(7),
        sender_factory=factory,
    )
    ev = Evaluations(store.con, naive_utc(clock.now()) - timedelta(seconds=10))
    return alerting, clock, sent, ev


def _states(store: DuckStore) -> list[tuple[str, int, str | None]]:
    return store.con.execute(
        "SELECT state, attempts, last_error FROM alert_outbox ORDER BY id"
    ).fetchall()


def test_a_message_counts_as_sent_only_when_the_sink_accepted_it(store: DuckStore) -> None:
    alerting, clock, sent, ev = _setup(store, [DOWN, DOWN])
    opened, _ = ev.save([finding(1)])
    alerting.enqueue(store.con, opened, [])
    d = alerting.dispatcher
    assert d.deliver_due() == 1  # 503: not sent, and not due again yet
    assert _states(store) == [("pending", 1, "HTTP 503: down")]
    for _ in range(20):  # backoff is uniform(0, base * 2^n): at most 1s, then 2s
        clock.advance(0.5)
        if d.deliver_due():
            break
    assert _states(store)[0][:2] == ("pending", 2)
    clock.advance(2.0)
    assert d.deliver_due() == 1
    assert _states(store) == [("sent", 3, "HTTP 503: down")]
    assert len(sent) == 3 and len({m for m, _ in sent}) == 1  # one message, one id
    stats = alerting.stats()["sinks"]["webhook"]
    assert (stats["sent"], stats["retries"], stats["failed"], stats["pending"]) == (1, 2, 0, 0)
    assert stats["last_answer"] == "HTTP 200"


def test_backoff_is_exponential_with_full_jitter_capped_and_honours_retry_after() -> None:
    d = Dispatcher(DuckStore().cursor, parse_alerts([]), rng=random.Random(1))
    for failures in range(0, 15):
        ceiling = min(600.0, 2.0**failures)
        samples = [d.backoff(failures) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range (full jitter)
    assert d.backoff(0, retry_after_s=30.0) >= 30.0


def test_retry_after_is_respected(store: DuckStore) -> None:
    alerting, clock, _, ev = _setup(store, [LIMITED])
    alerting.enqueue(store.con, ev.save([finding(1)])[0], [])
    alerting.dispatcher.deliver_due()
    clock.advance(29)
    assert alerting.dispatcher.deliver_due() == 0
    clock.advance(1)
    assert alerting.dispatcher.deliver_due() == 1
    assert _states(store)[0][0] == "sent"


def test_a_final_refusal_fails_the_message_and_the_next_one_goes(store: DuckStore) -> None:
    alerting, _, _sent, ev = _setup(store, [REFUSED], group_by=["fingerprint"])
    alerting.enqueue(store.con, ev.save([finding(1), finding(2)])[0], [])
    assert alerting.dispatcher.deliver_due() == 2
    assert [s[0] for s in _states(store)] == ["failed", "sent"]
    assert alerting.stats()["sinks"]["webhook"]["failed"] == 1


def test_a_message_older_than_give_up_after_is_failed(store: DuckStore) -> None:
    alerting, clock, _, ev = _setup(store, [DOWN] * 100, give_up_after="1m")
    alerting.enqueue(store.con, ev.save([finding(1)])[0], [])
    for _ in range(200):
        alerting.dispatcher.deliver_due()
        clock.advance(1)
    ((state, attempts, error),) = _states(store)
    assert (
        state == "failed" and attempts > 3 and error.endswith(f"given up after {attempts} attempts")
    )


def test_later_messages_wait_behind_one_being_retried(store: DuckStore) -> None:
    alerting, clock, sent, ev = _setup(store, [DOWN])
    opened, _ = ev.save([finding(1)])
    alerting.enqueue(store.con, opened, [])
    alerting.dispatcher.deliver_due()  # the opening failed once
    _, resolved = ev.save([])
    alerting.enqueue(store.con, [], resolved)
    assert alerting.dispatcher.deliver_due() == 0  # the resolve does not overtake it
    clock.advance(5)
    assert alerting.dispatcher.deliver_due() == 2
    assert [body["event"] for _, body in sent] == ["open", "open", "resolved"]


def test_no_sinks_no_work(store: DuckStore) -> None:
    alerting = Alerting(store.cursor, [])
    assert not alerting.enabled
    assert alerting.enqueue(store.con, [finding(1).fingerprint], []) == 0
    assert alerting.tick(store.con) == 0
    alerting.start()
    assert alerting.stats() == {"sinks": {}, "pending": 0, "running": False}
    alerting.stop()


def test_a_message_made_for_another_type_of_sink_is_failed(store: DuckStore) -> None:
    alerting, _, sent, ev = _setup(store, [])
    alerting.enqueue(store.con, ev.save([finding(1)])[0], [])
    store.con.execute("UPDATE alert_outbox SET sink_type = 'slack'")
    assert alerting.dispatcher.deliver_due() == 1
    assert _states(store) == [("failed", 1, "made for a slack sink, not a webhook")]
    assert sent == []
