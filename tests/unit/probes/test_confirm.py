"""``probes.confirm``: the side_effect.confirm span, as a context manager and as a decorator."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import probes
from probes import semconv
from probes.testing import assert_confirmed, assert_not_confirmed, confirmations

tracer = trace.get_tracer("tests.probes")


class SmtpRefused(Exception):
    pass


def test_a_confirmation_is_an_internal_child_span_of_the_current_span(spans):
    attributes = {"smtp.reply.code": 250}
    with (
        tracer.start_as_current_span("job") as job,
        probes.confirm("email.sent", key="ORD-1", **attributes) as probe,
    ):
        assert trace.get_current_span() is probe.span
    (span,) = spans.named(semconv.SIDE_EFFECT_CONFIRM_SPAN)
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is not None and span.parent.span_id == job.get_span_context().span_id
    assert dict(span.attributes) == {
        "side_effect.name": "email.sent",
        "side_effect.key": "ORD-1",
        "side_effect.status": "ok",
        "smtp.reply.code": 250,
    }
    assert span.status.status_code is StatusCode.UNSET
    assert_confirmed(spans, "email.sent", key="ORD-1", times=1)


def test_the_blocks_exception_propagates_unchanged_and_the_span_says_error(spans):
    error = SmtpRefused("550 user unknown")
    with pytest.raises(SmtpRefused) as raised, probes.confirm("email.sent", key="ORD-2"):
        raise error
    assert raised.value is error
    (span,) = confirmations(spans, "email.sent", key="ORD-2")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "SmtpRefused: 550 user unknown"
    assert span.attributes["side_effect.status"] == "error"
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"].endswith("SmtpRefused")
    assert_not_confirmed(spans, "email.sent", key="ORD-2")


def test_fail_marks_a_negative_verification_without_raising(spans):
    with probes.confirm("payment.captured", key="PAY-1") as probe:
        probe.fail("the PSP says: not captured")
    (span,) = confirmations(spans, "payment.captured")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "the PSP says: not captured"
    assert span.attributes["side_effect.status"] == "error"


def test_as_a_decorator_each_call_is_one_confirmation_keyed_from_the_arguments(spans):
    @probes.confirm("email.sent", key=lambda order_id, **_: order_id)
    def send(order_id: str, fail: bool = False) -> str:
        if fail:
            raise SmtpRefused(order_id)
        return f"sent {order_id}"

    assert send("ORD-3") == "sent ORD-3"
    assert send("ORD-4") == "sent ORD-4"
    with pytest.raises(SmtpRefused):
        send("ORD-5", fail=True)
    assert send.__name__ == "send"
    assert_confirmed(spans, "email.sent", key="ORD-3", times=1)
    assert_confirmed(spans, "email.sent", key="ORD-4", times=1)
    assert_not_confirmed(spans, "email.sent", key="ORD-5")
    assert len(confirmations(spans, "email.sent")) == 3


def test_as_a_decorator_of_a_coroutine_the_span_covers_the_awaited_work(spans):
    @probes.confirm("webhook.delivered", key="HOOK-1")
    async def deliver() -> str:
        await asyncio.sleep(0.01)
        assert trace.get_current_span().is_recording()
        return "ok"

    assert asyncio.run(deliver()) == "ok"
    (span,) = confirmations(spans, "webhook.delivered")
    assert span.end_time - span.start_time >= 10_000_000


def test_async_with_works_too(spans):
    async def main() -> None:
        async with probes.confirm("sms.sent", key="SMS-1"):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert_confirmed(spans, "sms.sent", key="SMS-1")


def test_inside_a_job_the_job_id_and_system_are_filled_in(spans):
    with probes.job_run("shop", "job-42", "send_receipt"):
        with probes.confirm("email.sent", key="ORD-6"):
            pass
        with probes.confirm("email.sent", key="ORD-7", job_id="other"):
            pass
    (first,) = confirmations(spans, key="ORD-6")
    assert first.attributes["job.id"] == "job-42"
    assert first.attributes["job.system"] == "shop"
    (second,) = confirmations(spans, key="ORD-7")
    assert second.attributes["job.id"] == "other"


def test_once_gives_later_confirmations_their_idempotency_key(spans):
    with probes.job_run("shop", "job-43", "charge"):
        probes.once("PAY-9")
        with probes.confirm("payment.captured"):
            pass
        with probes.once("PAY-10"), probes.confirm("payment.captured"):
            pass
        with probes.confirm("payment.captured"):
            pass
    keys = [s.attributes["side_effect.key"] for s in confirmations(spans, "payment.captured")]
    assert keys == ["PAY-9", "PAY-10", "PAY-9"]
    (run,) = spans.named("run charge")
    assert run.attributes["side_effect.key"] == "PAY-9"


def test_once_outside_a_job_scopes_the_key_to_the_block(spans):
    with probes.once("K-1"), probes.confirm("thing.done"):
        pass
    with probes.confirm("thing.done"):
        pass
    first, second = confirmations(spans, "thing.done")
    assert first.attributes["side_effect.key"] == "K-1"
    assert "side_effect.key" not in second.attributes
