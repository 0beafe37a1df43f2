"""The Dramatiq adapter with and without opentelemetry-instrumentor-dramatiq, on a StubBroker.

With the instrumentor, its ``dramatiq.worker.WorkerThread`` CONSUMER span is the job run span
(the adapter makes no ``process <queue>`` span), whichever of the two is installed first.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import probes
from probes import semconv

dramatiq = importlib.import_module("dramatiq")
instrumentor_module = importlib.import_module("opentelemetry_instrumentor_dramatiq")

from dramatiq.brokers.stub import StubBroker  # noqa: E402

from probes.adapters import dramatiq as adapter_module  # noqa: E402
from probes.adapters.dramatiq import DramatiqProbes  # noqa: E402

DramatiqInstrumentor = instrumentor_module.DramatiqInstrumentor
THEIR_RUN = "dramatiq.worker.WorkerThread"


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def _instrument(order: str, broker: StubBroker, provider: trace.TracerProvider) -> None:
    if order == "instrumentor-first":
        DramatiqInstrumentor().instrument(tracer_provider=provider)
    DramatiqProbes().instrument(broker=broker, tracer_provider=provider)
    if order == "probes-first":
        DramatiqInstrumentor().instrument(tracer_provider=provider)


@pytest.fixture
def uninstrument() -> Iterator[None]:
    yield
    if DramatiqInstrumentor().is_instrumented_by_opentelemetry:
        DramatiqInstrumentor().uninstrument()
    if DramatiqProbes().is_instrumented:
        DramatiqProbes().uninstrument()


def _declare(broker: StubBroker):
    @dramatiq.actor(
        broker=broker, actor_name=f"send_{uuid.uuid4().hex[:8]}", max_retries=1,
        min_backoff=10, max_backoff=10,
    )  # fmt: skip
    @probes.expects("email.sent")
    def send(order_id: str, fail: bool = False) -> None:
        with probes.confirm("email.sent", key=order_id):
            pass
        if fail:
            raise RuntimeError("crm timeout")

    return send


def _work(broker: StubBroker, actor) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(actor.queue_name, fail_fast=False)
        worker.join()
    finally:
        worker.stop()


def _runs(spans, job_id: str):
    return [
        s for s in spans
        if s.kind is SpanKind.CONSUMER and (s.attributes or {}).get(semconv.JOB_ID) == job_id
    ]  # fmt: skip


@pytest.mark.parametrize("order", ["instrumentor-first", "probes-first"])
def test_the_instrumentors_consumer_span_is_the_job_run(order, broker, spans, uninstrument):
    _instrument(order, broker, spans.provider)
    send = _declare(broker)
    ok = send.send("ORD-1")
    failing = send.send("ORD-2", True)
    _work(broker, send)

    assert not spans.named("process default")
    [run] = _runs(spans, ok.message_id)
    assert run.name == THEIR_RUN
    assert run.instrumentation_scope.name == "opentelemetry_instrumentor_dramatiq.src"
    attributes = dict(run.attributes or {})
    assert attributes[semconv.JOB_SYSTEM] == "dramatiq"
    assert attributes[semconv.JOB_NAME] == send.actor_name
    assert attributes[semconv.JOB_QUEUE] == "default"
    assert attributes[semconv.JOB_ATTEMPT] == 1
    assert attributes[semconv.JOB_OUTCOME] == "done"
    assert attributes[semconv.JOB_EXPECTED_EFFECTS] == ("email.sent",)
    assert [e.name for e in run.events] == [semconv.JOB_DONE_EVENT]
    # the run span is current in the job: the confirmation is its child
    [confirm] = [s for s in spans.named("side_effect.confirm")
                 if s.attributes[semconv.SIDE_EFFECT_KEY] == "ORD-1"]  # fmt: skip
    assert confirm.parent is not None and confirm.parent.span_id == run.context.span_id
    # the enqueue span is kept (the instrumentor's producer span carries no job.*), same trace
    [sent] = [s for s in spans.named("send default")
              if s.attributes[semconv.JOB_ID] == ok.message_id]  # fmt: skip
    assert sent.kind is SpanKind.PRODUCER
    assert sent.context.trace_id == run.context.trace_id

    first, second = sorted(_runs(spans, failing.message_id), key=lambda s: s.start_time)
    assert (first.name, second.name) == (THEIR_RUN, THEIR_RUN)
    assert (first.attributes[semconv.JOB_ATTEMPT], second.attributes[semconv.JOB_ATTEMPT]) == (1, 2)
    assert first.attributes[semconv.JOB_OUTCOME] == "retry"
    assert second.attributes[semconv.JOB_OUTCOME] == "failed"
    for run in (first, second):
        assert [e.name for e in run.events] == ["exception"]  # the instrumentor records none


def test_without_the_instrumentor_the_adapter_makes_the_run_span(broker, spans, uninstrument):
    DramatiqInstrumentor().instrument(tracer_provider=spans.provider)
    DramatiqInstrumentor().uninstrument()  # imported, but not installed
    DramatiqProbes().instrument(broker=broker, tracer_provider=spans.provider)
    send = _declare(broker)
    message = send.send("ORD-3")
    _work(broker, send)

    assert not spans.named(THEIR_RUN)
    [run] = _runs(spans, message.message_id)
    assert run.name == "process default"
    assert run.attributes[semconv.JOB_OUTCOME] == "done"
    [sent] = spans.named("send default")
    assert run.parent is not None and run.parent.span_id == sent.context.span_id


def test_a_non_recording_instrumentor_span_is_not_used(broker, spans, uninstrument):
    DramatiqInstrumentor().instrument(tracer_provider=trace.NoOpTracerProvider())
    DramatiqProbes().instrument(broker=broker, tracer_provider=spans.provider)
    send = _declare(broker)
    message = send.send("ORD-4")
    _work(broker, send)

    [run] = _runs(spans, message.message_id)
    assert run.name == "process default"
    assert [e.name for e in run.events] == [semconv.JOB_DONE_EVENT]


def test_a_failure_to_find_the_instrumentors_span_never_reaches_the_job(
    broker, spans, uninstrument, monkeypatch
):
    def broken(message):
        raise RuntimeError("probe bug")

    monkeypatch.setattr(adapter_module, "_instrumentor_span", broken)
    _instrument("instrumentor-first", broker, spans.provider)
    send = _declare(broker)
    message = send.send("ORD-5")
    _work(broker, send)

    runs = {s.name: s for s in _runs(spans, message.message_id)}
    assert runs["process default"].attributes[semconv.JOB_OUTCOME] == "done"
    assert semconv.JOB_ID not in (spans.named(THEIR_RUN)[0].attributes or {})
    assert len(spans.named("side_effect.confirm")) == 1
