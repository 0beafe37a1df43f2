"""One execution of a job, as the adapters record it (and ``probes.job_run`` for any other system).

``JobRun.start(...)`` enters the job's ``JobContext`` and, unless the framework's own
instrumentation already made a run span, starts one (kind CONSUMER, a child of the context the
producer propagated). The adapter then reports how the execution ended:

* ``succeeded()`` — ``job.outcome=done`` and the ``job.done`` event (unless the job code already
  called ``probes.mark_done()``),
* ``failed(exc, retry=False)`` — ``job.outcome=failed`` (own span: ``record_exception`` and
  ``Status(ERROR)``) or ``job.outcome=retry`` when the framework will run it again,

and ``end()`` ends the span it owns and leaves the job context. Every step is guarded: a probe
failure is logged, never raised into the worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from probes import semconv
from probes._safety import guarded
from probes.jobs import JobContext, current_job, enter_job, leave_job


def job_attributes(job: JobContext) -> dict[str, Any]:
    attributes: dict[str, Any] = {semconv.JOB_SYSTEM: job.system, semconv.JOB_ID: job.id}
    if job.name is not None:
        attributes[semconv.JOB_NAME] = job.name
    if job.queue is not None:
        attributes[semconv.JOB_QUEUE] = job.queue
    if job.attempt is not None:
        attributes[semconv.JOB_ATTEMPT] = int(job.attempt)
    if job.key is not None:
        attributes[semconv.JOB_KEY] = job.key
    return attributes


class JobRun:
    """A job execution in progress; see the module docstring."""

    def __init__(self, job: JobContext, own_span: trace.Span | None) -> None:
        self.job = job
        self.own_span = own_span
        self._context_token: object | None = None
        self._job_token: Any = None
        self._ended = False

    @classmethod
    def start(
        cls,
        job: JobContext,
        *,
        span_name: str | None,
        tracer: trace.Tracer | None = None,
        parent: Context | None = None,
        kind: SpanKind = SpanKind.CONSUMER,
        links: Sequence[Link] | None = None,
        span_resolver: Callable[[], trace.Span | None] | None = None,
    ) -> JobRun:
        """Enter ``job``; with ``span_name`` (and a tracer) start and activate its run span."""
        run = cls(job, None)
        with guarded("starting the job run"):
            if span_name is not None and tracer is not None:
                span = tracer.start_span(
                    span_name, context=parent, kind=kind, links=links,
                    attributes=job_attributes(job),
                )  # fmt: skip
                run.own_span = span
                job.run_span = span
                run._context_token = otel_context.attach(trace.set_span_in_context(span, parent))
            elif span_resolver is not None:
                job.span_resolver = span_resolver
        with guarded("entering the job context"):
            run._job_token = enter_job(job)
        return run

    # -- annotations

    def annotate(self) -> None:
        """Write ``job.*`` on the run span (for a span the framework's instrumentation made)."""
        with guarded("annotating the job run span"):
            span = self.job.run_span
            if span.is_recording():
                span.set_attributes(job_attributes(self.job))

    def succeeded(self) -> None:
        with guarded("recording the job's success"):
            span = self.job.run_span
            if span.is_recording():
                span.set_attribute(semconv.JOB_OUTCOME, semconv.JobOutcomeValues.DONE.value)
                if not self.job.done_marked:
                    span.add_event(semconv.JOB_DONE_EVENT, {semconv.JOB_ID: self.job.id})
            self.job.done_marked = True

    def failed(
        self, exc: BaseException | None = None, *, retry: bool = False, message: str | None = None
    ) -> None:
        with guarded("recording the job's failure"):
            span = self.job.run_span
            if not span.is_recording():
                return
            outcome = semconv.JobOutcomeValues.RETRY if retry else semconv.JobOutcomeValues.FAILED
            span.set_attribute(semconv.JOB_OUTCOME, outcome.value)
            if span is self.own_span and exc is not None:
                span.record_exception(exc)
            if span is self.own_span and not retry:
                if message is None:
                    message = f"{type(exc).__name__}: {exc}" if exc is not None else "job failed"
                span.set_status(Status(StatusCode.ERROR, message))

    # -- the end

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        with guarded("ending the job run"):
            if self._context_token is not None:
                otel_context.detach(self._context_token)  # type: ignore[arg-type]
            if self.own_span is not None:
                self.own_span.end()
        with guarded("leaving the job context"):
            if self._job_token is not None:
                leave_job(self._job_token)


def _broker_consumer_span() -> trace.Span | None:
    """The current span when a messaging instrumentation made it for this delivery: recording,
    kind CONSUMER (pika's ``<queue> receive``, aio-pika's, a Kafka consumer's), and no job's
    run span yet. ``job_run`` then annotates it instead of starting a second run span."""
    span = trace.get_current_span()
    if not span.is_recording() or getattr(span, "kind", None) is not SpanKind.CONSUMER:
        return None
    job = current_job()
    if job is not None and job.run_span is span:
        return None
    return span


@contextlib.contextmanager
def job_run(
    system: str,
    job_id: str,
    name: str | None = None,
    *,
    queue: str | None = None,
    attempt: int | None = None,
    key: str | int | None = None,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = (),
    tracer_provider: trace.TracerProvider | None = None,
) -> Iterator[JobContext]:
    """Record one execution of a job of a system no adapter covers.

    Inside a CONSUMER span that a broker's instrumentation made for this delivery (pika,
    aio-pika, a Kafka consumer), that span is the job run: ``job.*`` is written on it.
    Otherwise a CONSUMER span ``run <name>`` carrying ``job.*`` is started. ``key`` is the
    job's business key (``job.key``, for rules that correlate by key).

    Leaving the block normally marks the job done (``job.done``) unless the job code called
    ``probes.mark_retry()`` or ``probes.mark_failed()``; an exception of a ``retry_on`` type
    records ``job.outcome=retry`` (the message goes back to the queue), any other exception
    marks the run failed. Exceptions propagate unchanged.
    """
    from probes._tracer import get_tracer

    job = JobContext(
        system=system, id=str(job_id), name=name, queue=queue, attempt=attempt,
        key=None if key is None else str(key), tracer_provider=tracer_provider,
    )  # fmt: skip
    consumer_span = None
    with guarded("looking for the broker's consumer span"):
        consumer_span = _broker_consumer_span()
    if consumer_span is not None:
        run = JobRun.start(job, span_name=None, span_resolver=lambda: consumer_span)
        run.annotate()
    else:
        run = JobRun.start(
            job, span_name=f"run {name or system}", tracer=get_tracer(tracer_provider)
        )
    try:
        yield job
    except BaseException as exc:
        run.failed(exc, retry=bool(retry_on) and isinstance(exc, retry_on))
        raise
    else:
        if job.outcome_marked == semconv.JobOutcomeValues.RETRY.value:
            run.failed(retry=True)
        elif job.outcome_marked == semconv.JobOutcomeValues.FAILED.value:
            run.failed(message=job.outcome_reason)
        else:
            run.succeeded()
    finally:
        run.end()


def _mark(outcome: semconv.JobOutcomeValues, reason: str | None) -> None:
    job = current_job()
    if job is None:
        span = trace.get_current_span()
    else:
        job.outcome_marked, job.outcome_reason = outcome.value, reason
        span = job.run_span
    if span.is_recording():
        span.set_attribute(semconv.JOB_OUTCOME, outcome.value)


def mark_retry(reason: str | None = None) -> None:
    """This execution ends without doing the job, and the job will run again (a nack with
    requeue, a message left unacknowledged): ``job.outcome=retry``, no ``job.done``."""
    with guarded("mark_retry: recording the retry"):
        _mark(semconv.JobOutcomeValues.RETRY, reason)


def mark_failed(reason: str | None = None) -> None:
    """This execution failed and the job will not run again (a nack without requeue, a
    dead-lettered message): ``job.outcome=failed``, no ``job.done``. A visible failure, not a
    lie."""
    with guarded("mark_failed: recording the failure"):
        _mark(semconv.JobOutcomeValues.FAILED, reason)


def set_key(key: str | int) -> None:
    """Record the current job's business key (``job.key`` on its run span), for rules that
    correlate by key; for when the key is known only once the message is read."""
    with guarded("set_key: recording the job's key"):
        job = current_job()
        if job is not None:
            job.key = str(key)
            span = job.run_span
        else:
            span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(semconv.JOB_KEY, str(key))


@contextlib.contextmanager
def enqueue(
    system: str,
    job_id: str,
    name: str | None = None,
    *,
    queue: str | None = None,
    headers: MutableMapping[str, Any] | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> Iterator[trace.Span]:
    """Record a publish where the broker's instrumentation does not: a PRODUCER span
    ``<queue> send`` with the messaging conventions' ``messaging.system`` (``system``),
    ``messaging.message.id`` (``job_id``), ``messaging.destination.name`` (``queue``) and
    ``messaging.operation.type=send``, plus ``job.name``. The ``messaging`` profile makes it
    an enqueue, so a message no run ever took is a ``lost_job``. With ``headers`` (the
    message's header dict), the trace context is injected into it, so the consumer's run
    continues this trace. A publish that raises ends the span in error: no enqueue."""
    from opentelemetry import propagate

    from probes._tracer import get_tracer

    attributes: dict[str, Any] = {
        semconv.MESSAGING_SYSTEM: system,
        semconv.MESSAGING_MESSAGE_ID: str(job_id),
        semconv.MESSAGING_OPERATION_TYPE: "send",
    }
    if queue is not None:
        attributes[semconv.MESSAGING_DESTINATION_NAME] = queue
    if name is not None:
        attributes[semconv.JOB_NAME] = name
    tracer = get_tracer(tracer_provider)
    with tracer.start_as_current_span(
        f"{queue or name or system} send", kind=SpanKind.PRODUCER, attributes=attributes
    ) as span:
        if headers is not None:
            with guarded("enqueue: injecting the trace context"):
                propagate.inject(headers)
        yield span
