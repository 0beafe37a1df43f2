"""``confirm(..., verify=...)``: a read-back decides whether the confirmation is ok."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import probes
from probes import semconv
from probes.testing import assert_confirmed, assert_not_confirmed, confirmations


class ReadBackDown(Exception):
    pass


def _only(spans, key):
    (span,) = confirmations(spans, key=key)
    return span


def test_a_truthy_read_back_confirms(spans):
    with probes.confirm("row.written", key="R-1", verify=lambda: 1):
        pass
    assert_confirmed(spans, "row.written", key="R-1", times=1)
    assert semconv.SIDE_EFFECT_REASON not in _only(spans, "R-1").attributes


def test_a_falsy_read_back_is_a_failed_confirmation_and_does_not_raise(spans):
    def row_exists() -> bool:
        return False

    with probes.confirm("row.written", key="R-2", verify=row_exists):
        pass
    span = _only(spans, "R-2")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "verification failed: " + (
        "test_a_falsy_read_back_is_a_failed_confirmation_and_does_not_raise.<locals>.row_exists "
        "returned False"
    )
    assert span.attributes["side_effect.status"] == "error"
    assert span.attributes["side_effect.reason"] == "verification_failed"
    assert_not_confirmed(spans, "row.written", key="R-2")


def test_the_read_back_runs_inside_the_span_after_the_block(spans):
    order = []
    with probes.confirm("row.written", key="R-3", verify=lambda: order.append("verify") or True):
        order.append("block")
    assert order == ["block", "verify"]
    assert_confirmed(spans, "row.written", key="R-3")


def test_the_read_back_does_not_run_when_the_block_raised(spans):
    called = []
    with (
        pytest.raises(KeyError),
        probes.confirm("row.written", key="R-4", verify=lambda: called.append(1)),
    ):
        raise KeyError("R-4")
    assert called == []
    span = _only(spans, "R-4")
    assert span.status.status_code is StatusCode.ERROR
    assert semconv.SIDE_EFFECT_REASON not in span.attributes


def test_a_read_back_that_raises_is_recorded_and_propagates(spans):
    def read_back() -> bool:
        raise ReadBackDown("the replica is down")

    with pytest.raises(ReadBackDown), probes.confirm("row.written", key="R-5", verify=read_back):
        pass
    span = _only(spans, "R-5")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["side_effect.reason"] == "verification_error"
    assert [e.name for e in span.events] == ["exception"]


def test_as_a_decorator_the_read_back_gets_the_result_then_the_arguments(spans):
    seen = []

    def accepted(message_id, order_id, *, fail=False):
        seen.append((message_id, order_id, fail))
        return not fail

    @probes.confirm("email.sent", key=lambda order_id, **_: order_id, verify=accepted)
    def send(order_id, *, fail=False):
        return f"msg-{order_id}"

    assert send("ORD-1") == "msg-ORD-1"
    assert send("ORD-2", fail=True) == "msg-ORD-2"  # a failed read-back does not raise
    assert seen == [("msg-ORD-1", "ORD-1", False), ("msg-ORD-2", "ORD-2", True)]
    assert_confirmed(spans, "email.sent", key="ORD-1", times=1)
    assert_not_confirmed(spans, "email.sent", key="ORD-2")
    assert _only(spans, "ORD-2").attributes["side_effect.reason"] == "verification_failed"


def test_an_async_read_back_is_awaited_by_async_with_and_async_functions(spans):
    async def delivered(*args) -> bool:
        await asyncio.sleep(0)
        return args != ("msg", "H-2")

    @probes.confirm("webhook.delivered", key=lambda hook: hook, verify=delivered)
    async def deliver(hook: str) -> str:
        return "msg"

    async def main() -> None:
        async with probes.confirm("webhook.delivered", key="H-0", verify=delivered):
            pass
        await deliver("H-1")
        await deliver("H-2")

    asyncio.run(main())
    assert_confirmed(spans, "webhook.delivered", key="H-0", times=1)
    assert_confirmed(spans, "webhook.delivered", key="H-1", times=1)
    assert_not_confirmed(spans, "webhook.delivered", key="H-2")


def test_an_async_read_back_in_a_sync_block_is_not_trusted(spans):
    async def delivered() -> bool:
        return True

    with probes.confirm("webhook.delivered", key="H-3", verify=delivered):
        pass
    span = _only(spans, "H-3")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["side_effect.reason"] == "verification_error"
    assert "async" in span.status.description
