"""``probes.guard`` without a working store: it fails closed, the effect never runs.

The stores themselves run against real Redis and PostgreSQL in
``tests/integration/probes/test_guard_stores.py``; here the stores point at a port nothing
listens on (a real refused connection), which needs no service.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys

import pytest

from probes import guard
from probes.guard import (
    EffectBusy,
    GuardError,
    GuardUnavailable,
    PostgresStore,
    RedisStore,
    effect_once,
)
from probes.testing import assert_skipped, confirmations, skips


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_default_store():
    previous = guard.default_store()
    guard.configure(store=None)
    yield
    guard.configure(store=previous)


def test_importing_the_guard_loads_neither_redis_nor_psycopg():
    code = "import json, sys, probes.guard; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert {"redis", "psycopg", "auditor"} & loaded == set()


def test_the_errors_are_guard_errors():
    assert issubclass(GuardUnavailable, GuardError)
    assert issubclass(EffectBusy, GuardError)


def test_without_any_store_the_effect_does_not_run(spans, no_default_store):
    ran = []

    @effect_once("email.sent", key=lambda order_id: order_id)
    def send(order_id):
        ran.append(order_id)

    with pytest.raises(GuardUnavailable, match=r"configure\(store="):
        send("ORD-1")
    assert ran == []
    assert spans.spans == ()


def test_an_unreachable_redis_fails_closed(spans):
    store = RedisStore(f"redis://127.0.0.1:{closed_port()}/0", timeout=2)
    ran = []

    @effect_once("email.sent", key=lambda order_id: order_id, store=store)
    def send(order_id):
        ran.append(order_id)

    with pytest.raises(GuardUnavailable, match="Redis could not claim") as raised:
        send("ORD-2")
    assert raised.value.__cause__ is not None  # the driver's error, for the logs
    assert ran == []
    assert confirmations(spans) == []


def test_an_unreachable_postgresql_fails_closed(spans):
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{closed_port()}/test", timeout=2)
    ran = []

    @effect_once("email.sent", key=lambda order_id: order_id, store=store)
    async def send(order_id):
        ran.append(order_id)

    with pytest.raises(GuardUnavailable, match="PostgreSQL could not claim"):
        asyncio.run(send("ORD-3"))
    assert ran == []
    assert confirmations(spans) == []


def test_a_postgres_store_without_dsn_needs_the_callers_connection():
    store = PostgresStore(table="unused")
    with pytest.raises(GuardUnavailable, match="connection="), effect_once("x", "1", store=store):
        pass


def test_an_empty_key_is_refused_before_anything_runs():
    store = RedisStore(f"redis://127.0.0.1:{closed_port()}/0")
    ran = []

    @effect_once("email.sent", key=lambda order_id: order_id, store=store)
    def send(order_id):
        ran.append(order_id)

    for key in (None, ""):
        with pytest.raises(ValueError, match="key is empty"):
            send(key)
    assert ran == []


def test_the_context_manager_form_needs_the_key_itself():
    with (
        pytest.raises(TypeError, match="needs a key"),
        effect_once("email.sent", key=lambda o: o, store=RedisStore("redis://127.0.0.1:1/0")),
    ):
        pass


def test_a_redis_store_takes_no_connection():
    store = RedisStore(f"redis://127.0.0.1:{closed_port()}/0")
    with (
        pytest.raises(TypeError, match="no connection"),
        effect_once("email.sent", key="K", store=store, connection=object()),
    ):
        pass


def test_assert_skipped_fails_when_nothing_was_skipped(spans):
    with pytest.raises(AssertionError, match=r"'email.sent' key='ORD-1' was skipped 0 time"):
        assert_skipped(spans, "email.sent", key="ORD-1")
    assert skips(spans) == []
