"""arq adapter: job runs from the worker's job functions, enqueues from ``ArqRedis``.

    from probes.adapters.arq import ArqProbes
    ArqProbes().instrument(tracer_provider=provider)   # before the worker starts

* ``Worker.run_job`` — on its first call for a worker, every job function of that worker is
  wrapped: each call is a run span ``process <queue>`` (CONSUMER) with ``job.system=arq``,
  ``job.id``, ``job.name`` (the function name), ``job.queue``, ``job.attempt`` (arq's
  ``job_try``), and the job context for ``confirm()``. A return marks it done (``job.done``;
  arq stores the result next); ``Retry`` (or a cancellation arq will rerun) is
  ``job.outcome=retry``; any other exception is ``failed``.
* ``ArqRedis.enqueue_job`` — a ``send <queue>`` PRODUCER span with ``job.*``. arq carries no
  headers, so the run is not in the producer's trace: enqueue and run correlate by job id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import uuid
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Retry, RetryJob, Worker
from opentelemetry.trace import SpanKind

from probes import semconv
from probes._safety import guarded
from probes.adapters._base import BaseAdapter, Patches
from probes.jobs import JobContext
from probes.runs import JobRun

SYSTEM = "arq"
_WRAPPED = "__probes_arq_wrapped__"


class ArqProbes(BaseAdapter):
    """Adds the probes' job lifecycle to arq jobs; see the module docstring."""

    def _instrument(self, **kwargs: Any) -> None:
        self._patches = Patches()
        self._patches.wrap(Worker, "run_job", self._wrap_run_job)
        self._patches.wrap(ArqRedis, "enqueue_job", self._wrap_enqueue)

    def _uninstrument(self) -> None:
        self._patches.undo()

    # -- worker

    def _wrap_run_job(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        async def run_job(worker: Any, job_id: str, score: int) -> Any:
            if adapter.is_instrumented and not getattr(worker, _WRAPPED, False):
                with guarded("arq: wrapping the job functions"):
                    for name, function in list(worker.functions.items()):
                        wrapped = adapter._wrap_function(worker, name, function.coroutine)
                        worker.functions[name] = dataclasses.replace(function, coroutine=wrapped)
                    setattr(worker, _WRAPPED, True)
            return await original(worker, job_id, score)

        return run_job

    def _wrap_function(self, worker: Any, name: str, coroutine: Any) -> Any:
        adapter = self

        @functools.wraps(coroutine)
        async def job_function(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            if not adapter.is_instrumented:
                return await coroutine(ctx, *args, **kwargs)
            run = None
            with guarded("arq: starting the job run"):
                queue = getattr(worker, "queue_name", None)
                job = JobContext(
                    system=SYSTEM, id=str(ctx.get("job_id")), name=name, queue=queue,
                    attempt=int(ctx.get("job_try") or 1),
                    tracer_provider=adapter._tracer_provider,
                )  # fmt: skip
                run = JobRun.start(job, span_name=f"process {queue}", tracer=adapter._tracer)
            try:
                result = await coroutine(ctx, *args, **kwargs)
            except (Retry, RetryJob) as exc:
                if run is not None:
                    run.failed(exc, retry=bool(getattr(worker, "retry_jobs", True)))
                raise
            except asyncio.CancelledError as exc:
                if run is not None:
                    run.failed(exc, retry=bool(getattr(worker, "retry_jobs", True)))
                raise
            except Exception as exc:
                if run is not None:
                    run.failed(exc)
                raise
            else:
                if run is not None:
                    run.succeeded()
                return result
            finally:
                if run is not None:
                    run.end()

        return job_function

    # -- producer

    def _wrap_enqueue(self, original: Any) -> Any:
        adapter = self

        @functools.wraps(original)
        async def enqueue_job(redis: Any, function: str, *args: Any, **kwargs: Any) -> Any:
            if not adapter.is_instrumented:
                return await original(redis, function, *args, **kwargs)
            span = None
            with guarded("arq: starting the send span"):
                if kwargs.get("_job_id") is None:
                    kwargs["_job_id"] = uuid.uuid4().hex  # what arq would pick, known up front
                queue = kwargs.get("_queue_name") or getattr(redis, "default_queue_name", None)
                attributes: dict[str, Any] = {
                    semconv.JOB_SYSTEM: SYSTEM,
                    semconv.JOB_ID: str(kwargs["_job_id"]),
                    semconv.JOB_NAME: str(function),
                }
                if queue:
                    attributes[semconv.JOB_QUEUE] = str(queue)
                span = adapter._tracer.start_span(
                    f"send {queue}", kind=SpanKind.PRODUCER, attributes=attributes
                )
            try:
                return await original(redis, function, *args, **kwargs)
            finally:
                if span is not None:
                    with guarded("arq: ending the send span"):
                        span.end()

        return enqueue_job
