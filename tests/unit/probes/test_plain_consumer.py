"""``job_run`` for a hand-written consumer: retries, the business key, the broker's consumer
span as the run, and ``enqueue`` for a producer whose broker client is not instrumented."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

import probes
from probes.testing import confirmations


class Transient(Exception):
    pass


def test_an_exception_of_retry_on_is_a_retry_not_a_failure(spans):
    with (
        pytest.raises(Transient),
        probes.job_run("rabbitmq", "M-1", "send_receipt", retry_on=Transient),
    ):
        raise Transient("crm timeout")
    (run,) = spans.named("run send_receipt")
    assert run.attributes["job.outcome"] == "retry"
    assert [e.name for e in run.events] == ["exception"]  # recorded, but no job.done
    assert run.status.status_code is not StatusCode.ERROR


def test_another_exception_is_still_a_failure_with_retry_on_set(spans):
    with pytest.raises(KeyError), probes.job_run("rabbitmq", "M-2", "j", retry_on=Transient):
        raise KeyError("order")
    (run,) = spans.named("run j")
    assert run.attributes["job.outcome"] == "failed"
    assert run.status.status_code is StatusCode.ERROR


def test_mark_retry_without_an_exception_ends_the_run_as_a_retry(spans):
    with probes.job_run("rabbitmq", "M-3", "j"):
        probes.mark_retry("nack requeue=True")
    (run,) = spans.named("run j")
    assert run.attributes["job.outcome"] == "retry"
    assert "job.done" not in [e.name for e in run.events]


def test_mark_failed_without_an_exception_ends_the_run_failed(spans):
    with probes.job_run("rabbitmq", "M-4", "j"):
        probes.mark_failed("dead-lettered")
    (run,) = spans.named("run j")
    assert run.attributes["job.outcome"] == "failed"
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description == "dead-lettered"
    assert "job.done" not in [e.name for e in run.events]


def test_the_business_key_is_on_the_run_span_from_job_run_or_set_key(spans):
    with probes.job_run("rabbitmq", "M-5", "j", key="ORD-5"):
        pass
    with probes.job_run("rabbitmq", "M-6", "k"):
        probes.set_key(6)
    assert spans.named("run j")[0].attributes["job.key"] == "ORD-5"
    assert spans.named("run k")[0].attributes["job.key"] == "6"


def test_inside_a_broker_consumer_span_that_span_is_the_run(spans):
    tracer = trace.get_tracer("opentelemetry.instrumentation.pika")
    with (
        tracer.start_as_current_span("orders receive", kind=SpanKind.CONSUMER),
        probes.job_run("rabbitmq", "M-7", "send_receipt", queue="orders", attempt=2),
        probes.confirm("email.sent", key="ORD-7"),
    ):
        pass
    assert spans.named("run send_receipt") == []
    (run,) = spans.named("orders receive")
    assert run.attributes["job.id"] == "M-7"
    assert run.attributes["job.name"] == "send_receipt"
    assert run.attributes["job.attempt"] == 2
    assert run.attributes["job.outcome"] == "done"
    assert [e.name for e in run.events] == ["job.done"]
    (confirm,) = confirmations(spans, "email.sent")
    assert confirm.attributes["job.id"] == "M-7"
    assert confirm.parent.span_id == run.context.span_id


def test_inside_a_non_consumer_span_job_run_starts_its_own_run_span(spans):
    tracer = trace.get_tracer("test")
    with (
        tracer.start_as_current_span("poll", kind=SpanKind.INTERNAL) as outer,
        probes.job_run("billing", "J-8", "charge"),
    ):
        pass
    (run,) = spans.named("run charge")
    assert run.parent.span_id == outer.get_span_context().span_id
    assert "job.id" not in spans.named("poll")[0].attributes


def test_enqueue_is_a_producer_span_in_the_messaging_conventions(spans):
    headers: dict[str, str] = {}
    with probes.enqueue("rabbitmq", "M-9", "send_receipt", queue="orders", headers=headers):
        pass
    (span,) = spans.named("orders send")
    assert span.kind is SpanKind.PRODUCER
    assert dict(span.attributes) == {
        "messaging.system": "rabbitmq",
        "messaging.message.id": "M-9",
        "messaging.destination.name": "orders",
        "messaging.operation.type": "send",
        "job.name": "send_receipt",
    }
    trace_id = f"{span.context.trace_id:032x}"
    assert headers["traceparent"].split("-")[1] == trace_id


def test_an_enqueue_whose_publish_raised_ends_in_error(spans):
    with pytest.raises(ConnectionError), probes.enqueue("rabbitmq", "M-10", queue="orders"):
        raise ConnectionError("broker down")
    (span,) = spans.named("orders send")
    assert span.status.status_code is StatusCode.ERROR
