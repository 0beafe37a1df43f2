"""Dramatiq adapter: a middleware that records each message's processing as a job run.

    from probes.adapters.dramatiq import DramatiqProbes
    DramatiqInstrumentor().instrument(tracer_provider=provider)   # optional, either order
    DramatiqProbes().instrument(broker=broker, tracer_provider=provider)

``instrument`` adds ``ProbesMiddleware`` to the broker, placed before ``Retries`` so that,
Dramatiq calling ``after_*`` hooks in reverse order, it sees Retries' verdict:

* ``before_enqueue`` / ``after_enqueue`` — a ``send <queue>`` PRODUCER span with ``job.*``;
  its trace context travels in the message options (``probes_trace``), so the run is its child.
* ``before_process_message`` — the job run with ``job.system=dramatiq``, ``job.id`` (the
  message id), ``job.name`` (the actor), ``job.queue``, ``job.attempt``; the job context for
  ``confirm()``. The run span is ``process <queue>`` (CONSUMER), made by the adapter, unless
  the instrumentor below already made one for this message.
* ``after_process_message`` — ``job.outcome=done`` + ``job.done`` (Dramatiq acks next), or
  ``retry`` / ``failed`` (Retries failed the message), then the run ends.
* ``after_skip_message`` — the run ends with no outcome.
* ``after_worker_shutdown`` — force-flushes the provider.

Dramatiq has no instrumentation in the OpenTelemetry contrib repository. The third-party
``opentelemetry-instrumentor-dramatiq`` (``DramatiqInstrumentor``, 0.1.x) patches
``Actor.message_with_options`` (a ``dramatiq.producer.<actor>`` span of kind SERVER, ended
before the message is enqueued; its trace context goes in ``message.options["options"]``) and
``_WorkerThread.process_message`` (a ``dramatiq.worker.WorkerThread`` CONSUMER span per
message, child of that context, with ``message_id`` and ``actor_name``). Its consumer span is
never made current and is kept in a local variable of its wrapper only, so the adapter finds it
on the call stack: ``before_process_message`` runs inside that wrapper, whatever the order in
which the two were installed. When it is there (and recording), it is the job run span: the
adapter adds ``job.*``, ``job.outcome``, ``job.done`` and the job's exception to it, and makes
it the current span for the job's duration, so ``side_effect.confirm`` spans are its children.
The instrumentor's producer span carries no ``job.*`` and has ended by the time the message is
enqueued, so the ``send <queue>`` span is kept (it is how a lost message is found); without a
current span it becomes a child of the instrumentor's producer span, so both sides share one
trace. The ``probes`` profile reads these spans.
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import Any

import dramatiq
from dramatiq.common import q_name
from opentelemetry import context as otel_context
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

#: opentelemetry-instrumentor-dramatiq: its module, the function that installs its patches,
#: the wrapper of ``_WorkerThread.process_message`` it defines there, and that wrapper's locals.
_INSTRUMENTOR_MODULE = "opentelemetry_instrumentor_dramatiq.src"
_INSTRUMENTOR_PATCHER = "_instrument"
_INSTRUMENTOR_WRAPPER = "instrumented_process_message"


def _instrumentor_wrapper_code() -> CodeType | None:
    """The code of the instrumentor's ``process_message`` wrapper, if it has been imported.

    Nothing is imported here: an instrumentor that was never imported cannot be installed.
    """
    module = sys.modules.get(_INSTRUMENTOR_MODULE)
    code = getattr(getattr(module, _INSTRUMENTOR_PATCHER, None), "__code__", None)
    for const in getattr(code, "co_consts", ()):
        if isinstance(const, CodeType) and const.co_name == _INSTRUMENTOR_WRAPPER:
            return const
    return None


def _instrumentor_span(message: Any) -> trace.Span | None:
    """The instrumentor's CONSUMER span for ``message``, when this call runs inside its wrapper."""
    code = _instrumentor_wrapper_code()
    if code is None:
        return None
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            local = frame.f_locals
            span = local.get("span")
            if local.get("message") is message and isinstance(span, trace.Span):
                return span
            return None
        frame = frame.f_back
    return None


def _instrumentor_producer_context(message: Any) -> dict[str, str] | None:
    """The trace context the instrumentor's producer span put in the message, if any."""
    nested = message.options.get("options")
    carrier = nested.get("trace_context") if isinstance(nested, dict) else None
    return carrier if isinstance(carrier, dict) else None


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
            parent = None
            if not trace.get_current_span().get_span_context().is_valid:
                theirs = _instrumentor_producer_context(message)
                if theirs:
                    parent = extract(theirs)
            span = self.adapter._tracer.start_span(
                f"send {job.queue}", context=parent, kind=SpanKind.PRODUCER,
                attributes=job_attributes(job),
            )  # fmt: skip
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
            theirs = None
            with guarded("dramatiq: finding the instrumentor's span"):
                theirs = _instrumentor_span(message)
            if theirs is not None and theirs.is_recording():
                # Their span is the run span; make it current (the instrumentor does not), and
                # let JobRun.end() detach it.
                job.run_span = theirs
                token = otel_context.attach(trace.set_span_in_context(theirs))
                run = JobRun.start(job, span_name=None)
                run._context_token = token
                run.annotate()
            else:
                parent = extract(message.options.get(TRACE_OPTION) or {})
                run = JobRun.start(
                    job, span_name=f"process {job.queue}", tracer=self.adapter._tracer,
                    parent=parent,
                )  # fmt: skip
            self._runs[job.id] = run

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
            retry = True
            with guarded("dramatiq: reading the message's verdict"):
                retry = not message.failed
            run.failed(exception, retry=retry)
            if run.own_span is None:  # the instrumentor never sees the exception: record it
                with guarded("dramatiq: recording the exception"):
                    span = run.job.run_span
                    if span.is_recording():
                        span.record_exception(exception)
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
