"""Dramatiq adapter: a middleware that records each message's processing as a job run.

    from probes.adapters.dramatiq import DramatiqProbes
    DramatiqProbes().instrument(broker=broker, tracer_provider=provider)

``instrument`` adds ``ProbesMiddleware`` to the broker, placed before ``Retries`` so that,
Dramatiq calling ``after_*`` hooks in reverse order, it sees Retries' verdict:

* ``before_enqueue`` / ``after_enqueue`` — a ``send <queue>`` PRODUCER span with ``job.*``;
  its trace context travels in the message options (``probes_trace``), so the run is its child.
* ``before_process_message`` — the run span ``process <queue>`` (CONSUMER) with
  ``job.system=dramatiq``, ``job.id`` (the message id), ``job.name`` (the actor),
  ``job.queue``, ``job.attempt``; the job context for ``confirm()``.
* ``after_process_message`` — ``job.outcome=done`` + ``job.done`` (Dramatiq acks next), or
  ``retry`` / ``failed`` (Retries failed the message), then the span ends.
* ``after_skip_message`` — the span ends with no outcome.
* ``after_worker_shutdown`` — force-flushes the provider.

Dramatiq has no OpenTelemetry instrumentation of its own in the contrib repository, so the
``probes`` profile reads these spans directly.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.common import q_name
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind

from probes._safety import guarded
from probes.adapters._base import BaseAdapter
from probes.jobs import JobContext
from probes.runs import JobRun, job_attributes

SYSTEM = "dramatiq"
#: The message option that carries the producer's trace context.
TRACE_OPTION = "probes_trace"


class ProbesMiddleware(dramatiq.Middleware):
    """Job runs of Dramatiq messages; see the module docstring."""

    def __init__(self, adapter: DramatiqProbes) -> None:
        self.adapter = adapter
        self._runs: dict[str, JobRun] = {}
        self._sending: dict[str, trace.Span] = {}

    @property
    def actor_options(self) -> set[str]:
        return {TRACE_OPTION}

    def _job(self, message: Any) -> JobContext:
        return JobContext(
            system=SYSTEM,
            id=str(message.message_id),
            name=message.actor_name,
            queue=q_name(message.queue_name),
            attempt=int(message.options.get("retries", 0) or 0) + 1,
            tracer_provider=self.adapter._tracer_provider,
        )

    def before_enqueue(self, broker: Any, message: Any, delay: int) -> None:
        if not self.adapter.is_instrumented:
            return
        with guarded("dramatiq: starting the send span"):
            job = self._job(message)
            job.attempt = None
            span = self.adapter._tracer.start_span(
                f"send {job.queue}", kind=SpanKind.PRODUCER, attributes=job_attributes(job)
            )
            carrier: dict[str, str] = {}
            inject(carrier, context=trace.set_span_in_context(span))
            message.options[TRACE_OPTION] = carrier
            self._sending[job.id] = span

    def after_enqueue(self, broker: Any, message: Any, delay: int) -> None:
        with guarded("dramatiq: ending the send span"):
            span = self._sending.pop(str(message.message_id), None)
            if span is not None:
                span.end()

    def before_process_message(self, broker: Any, message: Any) -> None:
        if not self.adapter.is_instrumented:
            return
        with guarded("dramatiq: starting the job run"):
            job = self._job(message)
            parent = extract(message.options.get(TRACE_OPTION) or {})
            self._runs[job.id] = JobRun.start(
                job, span_name=f"process {job.queue}", tracer=self.adapter._tracer, parent=parent
            )

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        run = self._runs.pop(str(message.message_id), None)
        if run is None:
            return
        if exception is None:
            run.succeeded()
        else:
            run.failed(exception, retry=not message.failed)
        run.end()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        run = self._runs.pop(str(message.message_id), None)
        if run is not None:
            run.end()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        with guarded("dramatiq: flushing spans at shutdown"):
            provider = self.adapter._tracer_provider or trace.get_tracer_provider()
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()


class DramatiqProbes(BaseAdapter):
    """Installs ``ProbesMiddleware`` on a broker (the global one unless ``broker=`` is given)."""

    def _instrument(self, **kwargs: Any) -> None:
        broker = kwargs.get("broker") or dramatiq.get_broker()
        middleware = ProbesMiddleware(self)
        from dramatiq.middleware import Retries

        if any(isinstance(m, Retries) for m in broker.middleware):
            broker.add_middleware(middleware, before=Retries)
        else:
            broker.add_middleware(middleware)
        self._broker, self._middleware = broker, middleware

    def _uninstrument(self) -> None:
        # Dramatiq has no remove_middleware; the middleware stays and passes through.
        with guarded("dramatiq: removing the middleware"):
            self._broker.middleware.remove(self._middleware)
