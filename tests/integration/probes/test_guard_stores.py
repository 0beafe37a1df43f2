"""``probes.guard.effect_once`` on real Redis and real PostgreSQL: once per key, across
failures, crashes, concurrent attempts and the caller's transaction.

Each test has its own Redis key prefix (in DB 7) and its own PostgreSQL table (database
``test``), removed at the end, so runs never see each other's keys.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from opentelemetry.trace import StatusCode

import probes
from probes import guard
from probes.guard import EffectBusy, GuardUnavailable, PostgresStore, RedisStore, effect_once
from probes.testing import (
    assert_confirmed,
    assert_not_confirmed,
    assert_skipped,
    confirmations,
    skips,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("AUDITOR_GUARD_REDIS_URL", "redis://127.0.0.1:6379/7")
PG_DSN = os.environ.get("AUDITOR_GUARD_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _redis_store(name: str, **options) -> RedisStore:
    return RedisStore(REDIS_URL, prefix=f"guard-test:{name}:", **options)


def _pg_store(name: str, **options) -> PostgresStore:
    return PostgresStore(PG_DSN, table=f"guard_test_{name}", **options)


@pytest.fixture
def spans(probe_spans):
    """The spans recorded during this test (the pytest plugin's recorder)."""
    return probe_spans


@pytest.fixture
def unique() -> Iterator[str]:
    """A name for this test's Redis prefix and PostgreSQL table; both removed afterwards."""
    name = secrets.token_hex(4)
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for found in client.scan_iter(f"guard-test:{name}:*"):
        client.delete(found)
    client.close()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS guard_test_{name}, ledger_{name}")


@pytest.fixture(params=["redis", "postgres"])
def make_store(request, unique):
    """``make_store(**options)``: a store of the parametrized kind, private to this test."""
    made = []

    def make(**options):
        store = (_redis_store if request.param == "redis" else _pg_store)(unique, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, PostgresStore):
            store._drop_connection()


@pytest.fixture
def ledger(unique) -> Iterator[str]:
    """A table of effects (one row per performance) for the transaction tests."""
    table = f"ledger_{unique}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (key text NOT NULL, attempt int NOT NULL)")
    yield table


def rows(table: str) -> list[tuple]:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        return conn.execute(f"SELECT key, attempt FROM {table} ORDER BY attempt").fetchall()


class Boom(Exception):
    pass


# ----------------------------------------------------------------------------- once, skip, retry


def test_the_effect_runs_once_then_later_calls_skip_with_a_skip_span(spans, make_store):
    store = make_store()
    sent = []

    @effect_once("email.sent", key=lambda order_id: order_id, store=store, channel="smtp")
    def send(order_id):
        sent.append(order_id)
        return f"msg-{order_id}"

    with probes.job_run("shop", "job-1", "send_receipt"):
        assert send("ORD-1") == "msg-ORD-1"
    with probes.job_run("shop", "job-1", "send_receipt", attempt=2):
        assert send("ORD-1") is None
    with probes.job_run("shop", "job-2", "send_receipt"):
        assert send("ORD-1") is None
        assert send("ORD-2") == "msg-ORD-2"
    assert sent == ["ORD-1", "ORD-2"]

    (confirmed,) = assert_confirmed(spans, "email.sent", key="ORD-1", times=1)
    assert confirmed.attributes["job.id"] == "job-1"
    assert confirmed.attributes["job.system"] == "shop"
    assert confirmed.attributes["channel"] == "smtp"
    first, second = assert_skipped(spans, "email.sent", key="ORD-1", times=2)
    assert dict(first.attributes) == {
        "side_effect.name": "email.sent",
        "side_effect.key": "ORD-1",
        "side_effect.reason": "already_done",
        "side_effect.done_by": "job-1",
        "job.id": "job-1",
        "job.system": "shop",
        "channel": "smtp",
    }
    assert second.attributes["job.id"] == "job-2"
    assert first.status.status_code is StatusCode.UNSET
    # the skip is a child of the run that skipped, like a confirmation
    (run,) = [s for s in spans.named("run send_receipt") if s.attributes.get("job.attempt") == 2]
    assert first.parent.span_id == run.context.span_id
    assert_confirmed(spans, "email.sent", key="ORD-2", times=1)


def test_a_failed_body_records_nothing_so_the_retry_performs_the_effect(spans, make_store):
    store = make_store()
    attempts = []

    @effect_once("payment.captured", key=lambda pid: pid, store=store)
    def capture(pid):
        attempts.append(pid)
        if len(attempts) == 1:
            raise Boom("PSP timeout")

    with pytest.raises(Boom):
        capture("PAY-1")
    capture("PAY-1")
    capture("PAY-1")
    assert attempts == ["PAY-1", "PAY-1"]
    failed, ok = confirmations(spans, "payment.captured", key="PAY-1")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["side_effect.status"] == "error"
    assert ok.attributes["side_effect.status"] == "ok"
    assert len(skips(spans, key="PAY-1")) == 1


def test_a_failed_read_back_records_nothing_and_does_not_raise(spans, make_store):
    store = make_store()
    accepted = [False, True]
    sent = []

    @effect_once("email.sent", key=lambda o: o, store=store, verify=lambda r, o: accepted.pop(0))
    def send(order_id):
        sent.append(order_id)
        return "queued"

    assert send("ORD-3") == "queued"  # not verified: a failed confirmation, the key free
    assert send("ORD-3") == "queued"
    assert send("ORD-3") is None
    assert sent == ["ORD-3", "ORD-3"]
    failed, ok = confirmations(spans, "email.sent", key="ORD-3")
    assert failed.attributes["side_effect.reason"] == "verification_failed"
    assert ok.attributes["side_effect.status"] == "ok"


def test_the_context_manager_form_says_whether_to_perform(spans, make_store):
    store = make_store()
    performed = 0
    for _ in range(3):
        with effect_once("sms.sent", key="SMS-1", store=store) as todo:
            if todo:
                performed += 1
        assert todo.skipped is (performed == 1 and not todo)
    assert performed == 1
    assert_confirmed(spans, "sms.sent", key="SMS-1", times=1)
    assert len(skips(spans, key="SMS-1")) == 2


def test_coroutines_are_guarded_too(spans, make_store):
    store = make_store()
    sent = []

    @effect_once("webhook.delivered", key=lambda hook: hook, store=store)
    async def deliver(hook):
        await asyncio.sleep(0.01)
        sent.append(hook)
        return "200"

    async def main():
        first = await deliver("H-1")
        async with effect_once("webhook.delivered", key="H-1", store=store) as todo:
            assert not todo
        return first, await deliver("H-1")

    assert asyncio.run(main()) == ("200", None)
    assert sent == ["H-1"]
    assert_confirmed(spans, "webhook.delivered", key="H-1", times=1)


def test_a_default_store_is_used_when_a_call_names_none(spans, make_store):
    store = make_store()
    previous = guard.default_store()
    guard.configure(store=store)
    try:
        sent = []

        @effect_once("email.sent", key=lambda o: o)
        def send(order_id):
            sent.append(order_id)

        send("ORD-4")
        send("ORD-4")
    finally:
        guard.configure(store=previous)
    assert sent == ["ORD-4"]


def test_a_done_key_is_forgotten_after_its_ttl(spans, make_store):
    store = make_store(ttl=0.5)
    sent = []

    @effect_once("digest.sent", key=lambda week: week, store=store)
    def send(week):
        sent.append(week)

    send("2024-W01")
    send("2024-W01")
    time.sleep(0.7)
    send("2024-W01")
    assert sent == ["2024-W01", "2024-W01"]


# ----------------------------------------------------------------------------- concurrency, leases


def test_concurrent_attempts_perform_the_effect_once(spans, make_store):
    store = make_store(lease=10)
    performed = []
    start = threading.Barrier(6)
    results: list[object] = []

    @effect_once("email.sent", key=lambda o: o, store=store)
    def send(order_id):
        performed.append(threading.get_ident())
        time.sleep(0.3)  # the others arrive while it runs: they wait, then skip
        return "sent"

    def attempt():
        start.wait()
        results.append(send("ORD-5"))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(performed) == 1
    assert sorted(results, key=str) == [None, None, None, None, None, "sent"]
    assert_confirmed(spans, "email.sent", key="ORD-5", times=1)
    assert len(skips(spans, key="ORD-5")) == 5


def test_one_guard_object_serves_concurrent_with_blocks(spans, make_store):
    store = make_store(lease=10)
    shared = effect_once("sms.sent", key="SMS-9", store=store)
    start = threading.Barrier(4)
    performed, answers = [], []

    def attempt():
        start.wait()
        with shared as todo:
            answers.append(bool(todo))
            if todo:
                time.sleep(0.3)
                performed.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert performed == [1]
    assert sorted(answers) == [False, False, False, True]
    assert_confirmed(spans, "sms.sent", key="SMS-9", times=1)
    assert_skipped(spans, "sms.sent", key="SMS-9", times=3)


def test_an_attempt_still_leased_past_the_wait_raises_effect_busy(spans, make_store):
    store = make_store(lease=10)
    inside, finish = threading.Event(), threading.Event()

    def hold():
        with effect_once("email.sent", key="ORD-6", store=store):
            inside.set()
            finish.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    ran = []
    began = time.monotonic()
    with (
        pytest.raises(EffectBusy, match="another attempt holds it"),
        effect_once("email.sent", key="ORD-6", store=store, wait=0.3) as todo,
    ):
        ran.append(bool(todo))
    waited = time.monotonic() - began
    finish.set()
    holder.join(10)
    assert ran == []
    assert 0.3 <= waited < 2
    assert_confirmed(spans, "email.sent", key="ORD-6", times=1)


_CRASH = """
import os, signal, sys
from probes.guard import {store_class}, effect_once
store = {store_class}({target!r}, **{options!r})
with effect_once("email.sent", key="ORD-7", store=store) as todo:
    assert todo
    print("claimed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)   # killed inside the block, before the effect
"""


def test_a_process_killed_inside_the_block_leaves_the_key_to_a_retry_after_the_lease(
    spans, make_store, unique
):
    lease = 2.0
    store = make_store(lease=lease)
    if isinstance(store, RedisStore):
        code = _CRASH.format(store_class="RedisStore", target=REDIS_URL,
                             options={"prefix": store.prefix, "lease": lease})  # fmt: skip
    else:
        code = _CRASH.format(store_class="PostgresStore", target=PG_DSN,
                             options={"table": store.table, "lease": lease})  # fmt: skip
    crashed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    killed_at = time.monotonic()
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert crashed.stdout == "claimed\n"

    sent = []

    @effect_once("email.sent", key=lambda o: o, store=store)
    def send(order_id):
        sent.append(order_id)

    with pytest.raises(EffectBusy):  # the dead attempt's lease still holds
        effect_once("email.sent", key=lambda o: o, store=store, wait=0)(send)("ORD-7")
    send("ORD-7")  # waits for the lease to run out, then performs it
    assert time.monotonic() - killed_at >= lease - 0.5
    send("ORD-7")
    assert sent == ["ORD-7"]
    assert_confirmed(spans, "email.sent", key="ORD-7", times=1)


# ----------------------------------------------------------------------------- PostgreSQL: the caller's transaction


@pytest.fixture
def pg(unique) -> Iterator[PostgresStore]:
    store = _pg_store(unique)
    yield store
    store._drop_connection()


def _write(conn, table: str, key: str, attempt: int) -> None:
    conn.execute(f"INSERT INTO {table} (key, attempt) VALUES (%s, %s)", (key, attempt))


def test_without_a_transaction_the_guard_commits_the_effect_and_the_key_together(spans, pg, ledger):
    with psycopg.connect(PG_DSN) as conn:

        @effect_once("ledger.written", key=lambda key, n: key, store=pg, connection=conn)
        def write(key, n):
            _write(conn, ledger, key, n)

        write("L-1", 1)
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE  # committed
        write("L-1", 2)
    assert rows(ledger) == [("L-1", 1)]
    assert_confirmed(spans, "ledger.written", key="L-1", times=1)


def test_rolling_back_the_callers_transaction_rolls_back_the_key(spans, pg, ledger):
    with psycopg.connect(PG_DSN) as conn:
        with pytest.raises(Boom), conn.transaction():
            with effect_once("ledger.written", key="L-2", store=pg, connection=conn) as todo:
                assert todo
                _write(conn, ledger, "L-2", 1)
            raise Boom("the rest of the job failed")  # rolls back the row and the key
        assert rows(ledger) == []
        with (
            conn.transaction(),
            effect_once("ledger.written", key="L-2", store=pg, connection=conn) as todo,
        ):
            assert todo
            _write(conn, ledger, "L-2", 2)
        with effect_once("ledger.written", key="L-2", store=pg, connection=conn) as todo:
            assert not todo
        conn.commit()
    assert rows(ledger) == [("L-2", 2)]


def test_a_failed_body_in_the_callers_transaction_rolls_back_to_before_the_block(pg, ledger):
    with psycopg.connect(PG_DSN) as conn, conn.transaction():
        _write(conn, ledger, "before", 0)  # the caller's own write stays
        with (
            pytest.raises(Boom),
            effect_once("ledger.written", key="L-3", store=pg, connection=conn),
        ):
            _write(conn, ledger, "L-3", 1)
            raise Boom("constraint check failed")
        with effect_once("ledger.written", key="L-3", store=pg, connection=conn) as todo:
            assert todo  # nothing was recorded: the key is free
            _write(conn, ledger, "L-3", 2)
    assert rows(ledger) == [("before", 0), ("L-3", 2)]


def test_a_store_without_dsn_works_on_the_callers_connection_alone(spans, unique, ledger):
    store = PostgresStore(table=f"guard_test_{unique}")
    with psycopg.connect(PG_DSN) as conn:
        with pytest.raises(Boom), conn.transaction():
            with effect_once("ledger.written", key="L-6", store=store, connection=conn) as todo:
                _write(conn, ledger, "L-6", 1)
            raise Boom("rolls back the row, the key and the table the store created")
        for n in (2, 3):
            with effect_once("ledger.written", key="L-6", store=store, connection=conn) as todo:
                if todo:
                    _write(conn, ledger, "L-6", n)
    assert rows(ledger) == [("L-6", 2)]
    assert_confirmed(spans, "ledger.written", key="L-6", times=2)  # the first rolled back


def test_a_failed_read_back_in_the_callers_transaction_leaves_the_key_free(spans, pg, ledger):
    with psycopg.connect(PG_DSN) as conn:

        def row_there(_result, key, n):
            found = conn.execute(
                f"SELECT count(*) FROM {ledger} WHERE key = %s AND attempt = %s", (key, n)
            ).fetchone()
            return found[0] == 1 and n > 1  # the first write "is not there"

        @effect_once(
            "ledger.written", key=lambda key, n: key, store=pg, connection=conn, verify=row_there
        )
        def write(key, n):
            _write(conn, ledger, key, n)

        write("L-4", 1)
        write("L-4", 2)
        write("L-4", 3)
    assert rows(ledger) == [("L-4", 1), ("L-4", 2)]
    failed, ok = confirmations(spans, "ledger.written", key="L-4")
    assert failed.attributes["side_effect.reason"] == "verification_failed"
    assert ok.attributes["side_effect.status"] == "ok"


def test_a_concurrent_attempt_waits_for_the_callers_transaction_then_skips(spans, pg, ledger):
    claimed, commit = threading.Event(), threading.Event()

    def first():
        with psycopg.connect(PG_DSN) as conn, conn.transaction():
            with effect_once("ledger.written", key="L-5", store=pg, connection=conn) as todo:
                assert todo
                _write(conn, ledger, "L-5", 1)
            claimed.set()
            commit.wait(10)  # the transaction (and the uncommitted key) stays open

    holder = threading.Thread(target=first)
    holder.start()
    assert claimed.wait(10)
    results = []
    other = _pg_store(pg.table.removeprefix("guard_test_"))

    def second():
        with effect_once("ledger.written", key="L-5", store=other) as todo:
            results.append((bool(todo), time.monotonic()))

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.5)
    assert results == []  # blocked on the row the open transaction holds
    committed_at = time.monotonic()
    commit.set()
    holder.join(10)
    waiter.join(10)
    other._drop_connection()
    ((performed, at),) = results
    assert performed is False
    assert at >= committed_at
    assert rows(ledger) == [("L-5", 1)]
    assert len(skips(spans, key="L-5")) == 1


def test_an_unreachable_store_after_a_claim_does_not_lose_the_claim(spans, pg):
    # the table was dropped behind the store's back: recording fails, the effect happened;
    # without the caller's connection the guard logs it and returns the result
    sent = []

    @effect_once("email.sent", key=lambda o: o, store=pg)
    def send(order_id):
        sent.append(order_id)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {pg.table}")
        return "sent"

    assert send("ORD-8") == "sent"
    assert sent == ["ORD-8"]
    assert_confirmed(spans, "email.sent", key="ORD-8", times=1)
    # and the next claim fails closed (the table is gone until the store recreates it)
    pg._ready = True
    with pytest.raises(GuardUnavailable):
        send("ORD-9")
    assert sent == ["ORD-8"]
    assert_not_confirmed(spans, "email.sent", key="ORD-9")
