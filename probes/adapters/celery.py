"""Celery adapter: job lifecycle from Celery's signals.

    from celery.signals import worker_process_init
    from probes.adapters.celery import CeleryProbes

    @worker_process_init.connect(weak=False)
    def init_tracing(**_):
        provider = ...                      # your SDK setup, per pool child
        CeleryInstrumentor().instrument()   # optional: the official instrumentation
        CeleryProbes().instrument(tracer_provider=provider)

With ``opentelemetry-instrumentation-celery`` instrumented, its ``run/<task>`` span is the job
run span and this adapter adds ``job.system``/``job.id``/``job.name``/``job.queue``/
``job.attempt``, ``job.outcome`` and the ``job.done`` event to it (the ``celery`` profile
keeps judging it by ``celery.state``). Without it, the adapter makes the spans itself: an
``apply_async/<task>`` PRODUCER span that injects the trace context into the message headers,
and a ``run/<task>`` CONSUMER span per execution, both carrying ``job.*`` (the ``probes``
profile reads them). Which case applies is decided per task, so the order in which the two
instrumentations are installed does not matter.

``job.done`` is added at ``task_success``, right after Celery stored the result (the moment
the task is marked done), unless the task called ``probes.mark_done()`` itself.
"""

from __future__ import annotations

import functools
from typing import Any

from celery import signals
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind

from probes import semconv
from probes._safety import guarded
from probes.adapters._base import BaseAdapter
from probes.jobs import JobContext
from probes.runs import JobRun

SYSTEM = "celery"


class _RequestGetter(Getter[Any]):
    """Reads the propagated context from a task request (headers become its attributes)."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = getattr(carrier, key, None)
        if value is None and isinstance(getattr(carrier, "headers", None), dict):
            value = carrier.headers.get(key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Any) -> list[str]:
        return []


@functools.cache
def _official_instrumentor() -> Any:
    try:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
    except Exception:  # not installed (or broken): we make the spans
        return None
    return CeleryInstrumentor


def _official_instrumented() -> bool:
    instrumentor = _official_instrumentor()
    return instrumentor is not None and bool(instrumentor().is_instrumented_by_opentelemetry)


def _official_span(task: Any, task_id: str) -> trace.Span | None:
    from opentelemetry.instrumentation.celery import utils

    found = utils.retrieve_context(task, task_id)
    return found[0] if found else None


class CeleryProbes(BaseAdapter):
    """Adds the probes' job lifecycle to Celery tasks; see the module docstring."""

    def _instrument(self, **kwargs: Any) -> None:
        self._runs: dict[str, JobRun] = {}
        self._publishing: dict[str, trace.Span] = {}
        signals.task_prerun.connect(self._prerun, weak=False)
        signals.task_success.connect(self._success, weak=False)
        signals.task_failure.connect(self._failure, weak=False)
        signals.task_retry.connect(self._retry, weak=False)
        signals.task_postrun.connect(self._postrun, weak=False)
        signals.before_task_publish.connect(self._before_publish, weak=False)
        signals.after_task_publish.connect(self._after_publish, weak=False)

    def _uninstrument(self) -> None:
        signals.task_prerun.disconnect(self._prerun)
        signals.task_success.disconnect(self._success)
        signals.task_failure.disconnect(self._failure)
        signals.task_retry.disconnect(self._retry)
        signals.task_postrun.disconnect(self._postrun)
        signals.before_task_publish.disconnect(self._before_publish)
        signals.after_task_publish.disconnect(self._after_publish)
        for run in list(self._runs.values()):
            run.end()
        self._runs.clear()

    # -- worker side

    def _prerun(self, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        if task is None or task_id is None:
            return
        with guarded("celery: task_prerun"):
            request = task.request
            delivery = getattr(request, "delivery_info", None) or {}
            job = JobContext(
                system=SYSTEM,
                id=str(task_id),
                name=task.name,
                queue=delivery.get("routing_key") or None,
                attempt=int(getattr(request, "retries", 0) or 0) + 1,
                tracer_provider=self._tracer_provider,
            )
            if _official_instrumented():
                run = JobRun.start(
                    job, span_name=None, span_resolver=lambda: _official_span(task, task_id)
                )
            else:
                parent = extract(request, getter=_RequestGetter())
                run = JobRun.start(
                    job, span_name=f"run/{task.name}", tracer=self._tracer, parent=parent
                )
            self._runs[str(task_id)] = run

    def _run_of(self, task: Any) -> JobRun | None:
        task_id = getattr(getattr(task, "request", None), "id", None)
        return self._runs.get(str(task_id)) if task_id is not None else None

    def _success(self, sender: Any = None, **_: Any) -> None:
        with guarded("celery: task_success"):
            run = self._run_of(sender)
            if run is not None:
                run.annotate()
                run.succeeded()

    def _failure(
        self, sender: Any = None, task_id: str | None = None, exception: BaseException | None = None,
        **_: Any,
    ) -> None:  # fmt: skip
        with guarded("celery: task_failure"):
            run = self._runs.get(str(task_id)) if task_id is not None else self._run_of(sender)
            if run is not None:
                run.annotate()
                run.failed(exception)

    def _retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        with guarded("celery: task_retry"):
            task_id = getattr(request, "id", None)
            run = self._runs.get(str(task_id)) if task_id is not None else self._run_of(sender)
            if run is not None:
                run.annotate()
                run.failed(reason if isinstance(reason, BaseException) else None, retry=True)

    def _postrun(self, task_id: str | None = None, **_: Any) -> None:
        with guarded("celery: task_postrun"):
            run = self._runs.pop(str(task_id), None)
            if run is not None:
                run.annotate()
                run.end()

    # -- producer side (only when the official instrumentation does not make these spans)

    def _before_publish(
        self, sender: Any = None, headers: dict[str, Any] | None = None,
        routing_key: str | None = None, **_: Any,
    ) -> None:  # fmt: skip
        if headers is None or _official_instrumented():
            return
        with guarded("celery: before_task_publish"):
            task_id = headers.get("id")
            if task_id is None:
                return
            task_name = str(headers.get("task") or sender)
            attributes: dict[str, Any] = {
                semconv.JOB_SYSTEM: SYSTEM,
                semconv.JOB_ID: str(task_id),
                semconv.JOB_NAME: task_name,
            }
            if routing_key:
                attributes[semconv.JOB_QUEUE] = routing_key
            retries = headers.get("retries")
            if retries:
                attributes[semconv.JOB_ATTEMPT] = int(retries) + 1
            span = self._tracer.start_span(
                f"apply_async/{task_name}", kind=SpanKind.PRODUCER, attributes=attributes
            )
            inject(headers, context=trace.set_span_in_context(span))
            self._publishing[str(task_id)] = span

    def _after_publish(self, headers: dict[str, Any] | None = None, **_: Any) -> None:
        if not headers:
            return
        with guarded("celery: after_task_publish"):
            span = self._publishing.pop(str(headers.get("id")), None)
            if span is not None:
                span.end()
