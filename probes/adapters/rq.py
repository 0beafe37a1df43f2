"""RQ adapter: job lifecycle from patches on ``rq.Worker`` and ``rq.Queue``.

    from probes.adapters.rq import RQProbes
    RQProbes().instrument(tracer_provider=provider)   # in the worker process, before work()

Work-horse side (one forked process per job):

* ``Worker.perform_job`` — the execution: enters the job context; without the community
  ``opentelemetry-instrumentation-rq`` it also makes the run span ``consume <queue>``
  (CONSUMER, child of the context in ``job.meta``) carrying ``job.*``, and force-flushes the
  tracer provider at the end, because the work-horse leaves with ``os._exit``.
  With the community instrumentation its ``consume`` span is the run span: it is found in
  ``Worker.prepare_job_execution``, which RQ calls inside ``perform_job`` whatever the order
  of the two instrumentations.
* ``Worker.handle_job_success`` — ``job.outcome=done`` and ``job.done`` (RQ is about to
  store status ``finished``).
* ``Worker.handle_job_failure`` — ``job.outcome=retry`` when RQ will retry it, else ``failed``.

Parent worker side: when a work-horse dies, RQ calls ``handle_job_failure`` in the parent.
Without the community instrumentation the adapter records that as a job run span
``handle_job_failure <queue>`` (``job.outcome`` failed or retry): a visible failure, not a
lost job. Producer side: without the community instrumentation ``Queue._enqueue_job`` gets
a ``publish <queue>`` PRODUCER span with ``job.*`` and the trace context in ``job.meta``.
"""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import SpanKind, Status, StatusCode
from rq.queue import Queue
from rq.worker import Worker

from probes import semconv
from probes._safety import guarded
from probes.adapters._base import BaseAdapter, Patches
from probes.jobs import JobContext, current_job
from probes.runs import JobRun, job_attributes

SYSTEM = "rq"


@functools.cache
def _official_instrumentor() -> Any:
    try:
        from opentelemetry_instrumentation_rq import RQInstrumentor
    except Exception:  # not installed (or broken): we make the spans
        return None
    return RQInstrumentor


def _official_instrumented() -> bool:
    instrumentor = _official_instrumentor()
    return instrumentor is not None and bool(instrumentor().is_instrumented_by_opentelemetry)


def _job_context(job: Any, queue_name: str | None, provider: Any) -> JobContext:
    return JobContext(
        system=SYSTEM,
        id=str(job.id),
        name=getattr(job, "func_name", None),
        queue=queue_name or getattr(job, "origin", None),
        tracer_provider=provider,
    )


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "job failed"


class RQProbes(BaseAdapter):
    """Adds the probes' job lifecycle to RQ jobs; see the module docstring."""

    def _instrument(self, **kwargs: Any) -> None:
        self._runs: dict[str, JobRun] = {}
        self._patches = Patches()
        self._patches.wrap(Worker, "perform_job", self._wrap_perform_job)
        self._patches.wrap(Worker, "prepare_job_execution", self._wrap_prepare)
        self._patches.wrap(Worker, "handle_job_success", self._wrap_success)
        self._patches.wrap(Worker, "handle_job_failure", self._wrap_failure)
        self._patches.wrap(Queue, "_enqueue_job", self._wrap_enqueue)

    def _uninstrument(self) -> None:
        self._patches.undo()
        for run in list(self._runs.values()):
            run.end()
        self._runs.clear()

    def _flush(self) -> None:
        with guarded("rq: flushing spans before the work-horse exits"):
            provider = self._tracer_provider or trace.get_tracer_provider()
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                flush()

    # -- work-horse

    def _wrap_perform_job(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        def perform_job(worker: Any, job: Any, queue: Any, *args: Any, **kwargs: Any) -> Any:
            if not adapter.is_instrumented:
                return original(worker, job, queue, *args, **kwargs)
            run = None
            own = False
            with guarded("rq: starting the job run"):
                ctx = _job_context(job, getattr(queue, "name", None), adapter._tracer_provider)
                own = not _official_instrumented()
                if own:
                    run = JobRun.start(
                        ctx, span_name=f"consume {ctx.queue}", tracer=adapter._tracer,
                        parent=extract(job.meta or {}),
                    )  # fmt: skip
                else:
                    run = JobRun.start(ctx, span_name=None)
                adapter._runs[ctx.id] = run
            try:
                return original(worker, job, queue, *args, **kwargs)
            finally:
                if run is not None:
                    adapter._runs.pop(run.job.id, None)
                    run.annotate()
                    run.end()
                    if own:
                        adapter._flush()

        return perform_job

    def _wrap_prepare(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        def prepare_job_execution(worker: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
            if adapter.is_instrumented:
                with guarded("rq: finding the consume span"):
                    ctx = current_job()
                    if ctx is not None and ctx.id == str(job.id) and ctx._run_span is None:
                        span = trace.get_current_span()
                        if span.is_recording():
                            ctx.run_span = span
            return original(worker, job, *args, **kwargs)

        return prepare_job_execution

    def _wrap_success(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        def handle_job_success(worker: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
            if adapter.is_instrumented:
                run = adapter._runs.get(str(job.id))
                if run is not None:
                    run.annotate()
                    run.succeeded()
            return original(worker, job, *args, **kwargs)

        return handle_job_success

    def _wrap_failure(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        def handle_job_failure(worker: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
            if not adapter.is_instrumented:
                return original(worker, job, *args, **kwargs)
            retry = False
            exc_string = kwargs.get("exc_string") or (args[2] if len(args) > 2 else "")
            with guarded("rq: reading the retry policy"):
                retry = bool(job.should_retry)
            run = adapter._runs.get(str(job.id))
            if run is not None:  # in the work-horse: the job raised
                run.annotate()
                run.failed(retry=retry, message=_last_line(str(exc_string)))
                return original(worker, job, *args, **kwargs)
            if _official_instrumented():
                return original(worker, job, *args, **kwargs)
            # In the parent worker: the work-horse died (or the job never started).
            return adapter._record_parent_failure(original, worker, job, retry, args, kwargs)

        return handle_job_failure

    def _record_parent_failure(
        self, original: Any, worker: Any, job: Any, retry: bool, args: Any, kwargs: Any
    ) -> Any:
        span: trace.Span = trace.INVALID_SPAN
        token = None
        with guarded("rq: recording the work-horse's death"):
            queue = kwargs.get("queue") or (args[0] if args else None)
            ctx = _job_context(job, getattr(queue, "name", None), self._tracer_provider)
            attributes = job_attributes(ctx)
            outcome = semconv.JobOutcomeValues.RETRY if retry else semconv.JobOutcomeValues.FAILED
            attributes[semconv.JOB_OUTCOME] = outcome.value
            parent = extract(job.meta or {})
            span = self._tracer.start_span(
                f"handle_job_failure {ctx.queue}", context=parent, kind=SpanKind.INTERNAL,
                attributes=attributes,
            )  # fmt: skip
            exc_string = kwargs.get("exc_string") or (args[2] if len(args) > 2 else "")
            if not retry:
                span.set_status(Status(StatusCode.ERROR, _last_line(str(exc_string))))
            token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            return original(worker, job, *args, **kwargs)
        finally:
            with guarded("rq: ending the work-horse failure span"):
                if token is not None:
                    otel_context.detach(token)
                span.end()

    # -- producer

    def _wrap_enqueue(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        def _enqueue_job(queue: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
            if not adapter.is_instrumented or _official_instrumented():
                return original(queue, job, *args, **kwargs)
            span: trace.Span = trace.INVALID_SPAN
            with guarded("rq: starting the publish span"):
                ctx = _job_context(job, getattr(queue, "name", None), adapter._tracer_provider)
                span = adapter._tracer.start_span(
                    f"publish {ctx.queue}", kind=SpanKind.PRODUCER, attributes=job_attributes(ctx)
                )
                if job.meta is None:
                    job.meta = {}
                inject(job.meta, context=trace.set_span_in_context(span))
            try:
                return original(queue, job, *args, **kwargs)
            finally:
                with guarded("rq: ending the publish span"):
                    span.end()

        return _enqueue_job
