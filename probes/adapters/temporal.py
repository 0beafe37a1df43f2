"""Temporal adapter: a worker interceptor that makes activities and workflows judgeable jobs.

    from temporalio.contrib.opentelemetry import TracingInterceptor
    from probes.adapters.temporal import TemporalProbes

    client = await Client.connect(address, interceptors=[TracingInterceptor()])
    worker = Worker(client, task_queue="orders", workflows=[...], activities=[...],
                    interceptors=[TemporalProbes(tracer_provider=provider)])

Temporal takes interceptors per client and worker, so this is an interceptor rather than an
``instrument()``-style instrumentor. It must be *inside* Temporal's own tracing interceptor
(``TracingInterceptor`` or ``OpenTelemetryPlugin``): the first interceptor of a worker is the
outermost, and a worker's own interceptors come after its client's, so passing it to the
``Worker`` as above is always right.

Activities — one execution attempt is one job run:

* When Temporal's interceptor made a ``RunActivity:<type>`` span (``TracingInterceptor``, or
  ``OpenTelemetryPlugin(add_temporal_spans=True)``), that span is the run span and gets
  ``job.system=temporal``, ``job.id``, ``job.name`` (the activity type), ``job.queue`` (the
  task queue), ``job.attempt`` (``activity.info().attempt``), ``job.outcome`` and the
  ``job.done`` event when the activity returns. The job id is ``<workflow id>/<span id of the
  StartActivity span that scheduled it>``: the one value the scheduling span and every
  attempt share, so a scheduled activity that never ran is a lost job.
* Otherwise (``OpenTelemetryPlugin()`` without Temporal spans, or no tracing interceptor) the
  adapter makes the run span itself: ``RunActivity:<type>`` (SERVER, a child of the context
  in the activity's headers) with ``job.id = <workflow id>/<activity id>``.
* A raise is ``job.outcome=retry`` when Temporal will run the activity again (its retry
  policy allows another attempt and the error is retryable), else ``failed``.
* Confirmations inside the activity carry ``job.id`` and ``temporalWorkflowID``, so siblings
  in one workflow stay apart and a workflow's own effects can be found by key.

Workflows — one workflow run is one job:

* When a workflow run completes or fails (not while it is replayed), the adapter records a
  ``Workflow:<type>`` span (INTERNAL, from the workflow's start to its end) with
  ``job.system=temporal``, ``job.id`` = the workflow id, ``job.name`` = the workflow type,
  ``job.outcome`` and the ``job.done`` event; the effects its run method declares with
  ``@probes.expects(...)`` go to ``job.expected_effects``. Workflow code runs in Temporal's
  sandbox, so the span is made outside it, through an extern function, like Temporal's own
  interceptor does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import temporalio.activity
import temporalio.common
import temporalio.converter
import temporalio.exceptions
import temporalio.worker
import temporalio.workflow
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from probes import semconv
from probes._safety import guarded
from probes.jobs import JobContext
from probes.runs import JobRun
from probes.version import __version__

SYSTEM = "temporal"

#: Attribute keys Temporal's own interceptors use (camelCase, no namespace).
WORKFLOW_ID = "temporalWorkflowID"
RUN_ID = "temporalRunID"
ACTIVITY_ID = "temporalActivityID"
ACTIVITY_TYPE = "temporalActivityType"

#: The header both of Temporal's tracing interceptors carry the trace context in.
TRACE_HEADER = "_tracer-data"
_EXTERN = "__probes_temporal_workflow_finished"
#: What ``activity.raise_complete_async()`` raises (private in temporalio; none if it moves).
_COMPLETE_ASYNC: Any = getattr(temporalio.activity, "_CompleteAsyncError", ())
_PROPAGATOR = TraceContextTextMapPropagator()


class TemporalProbes(temporalio.worker.Interceptor):
    """Adds the probes' job lifecycle to Temporal activities and workflows; see the module
    docstring."""

    def __init__(self, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer_provider = tracer_provider
        self._tracer = trace.get_tracer(__name__, __version__, tracer_provider)

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next, self)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        input.unsafe_extern_functions[_EXTERN] = self._workflow_finished
        return _WorkflowInbound

    # -- activities

    def _start_activity(self, input: temporalio.worker.ExecuteActivityInput) -> JobRun:
        info = temporalio.activity.info()
        workflow_id = info.workflow_id or ""
        current = trace.get_current_span()
        theirs = _is_run_span_of(current, info)
        if theirs:
            parent = getattr(current, "parent", None)
            scheduled_by = (
                format(parent.span_id, "016x") if parent is not None else info.activity_id
            )
            job_id = f"{workflow_id}/{scheduled_by}"
        else:
            job_id = f"{workflow_id}/{info.activity_id}" if workflow_id else info.activity_id
        job = JobContext(
            system=SYSTEM, id=job_id, name=info.activity_type, queue=info.task_queue,
            attempt=info.attempt, tracer_provider=self._tracer_provider,
            attributes={WORKFLOW_ID: workflow_id} if workflow_id else {},
        )  # fmt: skip
        if theirs:
            run = JobRun.start(job, span_name=None, span_resolver=lambda: current)
            run.annotate()
            return run
        run = JobRun.start(
            job, span_name=f"RunActivity:{info.activity_type}", tracer=self._tracer,
            parent=_context_from_headers(input.headers), kind=SpanKind.SERVER,
        )  # fmt: skip
        with guarded("temporal: annotating the activity span"):
            span = job.run_span
            if span.is_recording():
                # no temporalActivityID: the job id of this span is job.id, not the parent
                # span's (the temporal profile reads that attribute as "Temporal made this")
                span.set_attributes({ACTIVITY_TYPE: info.activity_type, WORKFLOW_ID: workflow_id,
                                     RUN_ID: info.workflow_run_id or ""})  # fmt: skip
        return run

    # -- workflows (called outside the sandbox, synchronously, by the workflow's interceptor)

    def _workflow_finished(self, finished: _WorkflowFinished) -> None:
        with guarded("temporal: recording the workflow run"):
            attributes: dict[str, Any] = {
                semconv.JOB_SYSTEM: SYSTEM,
                semconv.JOB_ID: finished.workflow_id,
                semconv.JOB_NAME: finished.workflow_type,
                semconv.JOB_QUEUE: finished.task_queue,
                semconv.JOB_ATTEMPT: finished.attempt,
                semconv.JOB_OUTCOME: (
                    semconv.JobOutcomeValues.FAILED.value
                    if finished.error is not None
                    else semconv.JobOutcomeValues.DONE.value
                ),
                WORKFLOW_ID: finished.workflow_id,
                RUN_ID: finished.run_id,
            }
            if finished.expected_effects:
                attributes[semconv.JOB_EXPECTED_EFFECTS] = list(finished.expected_effects)
            now = time.time_ns()
            span = self._tracer.start_span(
                f"Workflow:{finished.workflow_type}",
                context=_PROPAGATOR.extract(finished.carrier),
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=min(finished.started_ns, now),
            )
            if finished.error is not None:
                span.set_status(Status(StatusCode.ERROR, finished.error))
            else:
                span.add_event(
                    semconv.JOB_DONE_EVENT, {semconv.JOB_ID: finished.workflow_id}, timestamp=now
                )
            span.end(end_time=now)


@dataclass(frozen=True)
class _WorkflowFinished:
    carrier: dict[str, str]
    workflow_type: str
    workflow_id: str
    run_id: str
    task_queue: str
    attempt: int
    started_ns: int
    expected_effects: tuple[str, ...]
    error: str | None


def _is_run_span_of(span: trace.Span, info: temporalio.activity.Info) -> bool:
    """Is ``span`` the ``RunActivity:<type>`` span Temporal's interceptor made for this
    attempt (the SDK's span exposes its name; a non-recording one is nobody's)?"""
    if not span.is_recording():
        return False
    return getattr(span, "name", None) == f"RunActivity:{info.activity_type}"


def _context_from_headers(headers: Mapping[str, Any]) -> Context | None:
    """The trace context Temporal's interceptors put in the headers (None when absent)."""
    with guarded("temporal: reading the trace context header"):
        payload = headers.get(TRACE_HEADER)
        if payload is None:
            return None
        carrier = temporalio.converter.PayloadConverter.default.from_payloads([payload])[0]
        if isinstance(carrier, dict):
            return _PROPAGATOR.extract(carrier)
    return None


def _will_retry(info: temporalio.activity.Info, exc: BaseException) -> bool:
    """Will Temporal run this activity again after ``exc``? (Its retry policy decides; a
    schedule-to-close timeout can still stop it, which the worker cannot know.)"""
    if isinstance(exc, temporalio.exceptions.ApplicationError) and exc.non_retryable:
        return False
    policy: temporalio.common.RetryPolicy | None = getattr(info, "retry_policy", None)
    if policy is None:
        return True
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return False
    kind = exc.type if isinstance(exc, temporalio.exceptions.ApplicationError) else None
    return (kind or type(exc).__name__) not in (policy.non_retryable_error_types or ())


class _ActivityInbound(temporalio.worker.ActivityInboundInterceptor):
    def __init__(
        self, next: temporalio.worker.ActivityInboundInterceptor, root: TemporalProbes
    ) -> None:
        super().__init__(next)
        self._root = root

    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        run: JobRun | None = None
        with guarded("temporal: starting the activity run"):
            run = self._root._start_activity(input)
        try:
            result = await super().execute_activity(input)
        except _COMPLETE_ASYNC:
            raise  # completed later, elsewhere: neither done nor failed here
        except BaseException as exc:
            if run is not None:
                with guarded("temporal: recording the activity failure"):
                    run.failed(exc, retry=_will_retry(temporalio.activity.info(), exc))
            raise
        else:
            if run is not None:
                run.succeeded()
            return result
        finally:
            if run is not None:
                run.end()


class _WorkflowInbound(temporalio.worker.WorkflowInboundInterceptor):
    """Runs inside the workflow sandbox: deterministic, no I/O; the span is made outside."""

    async def execute_workflow(self, input: temporalio.worker.ExecuteWorkflowInput) -> Any:
        started = temporalio.workflow.time_ns()
        expected: Sequence[str] = getattr(input.run_fn, "__probes_expected_effects__", ()) or ()
        try:
            result = await super().execute_workflow(input)
        except temporalio.exceptions.FailureError as exc:  # the workflow run failed
            self._finished(started, expected, f"{type(exc).__name__}: {exc}")
            raise
        # any other exception fails the workflow *task*, which Temporal retries: not an end
        self._finished(started, expected, None)
        return result

    def _finished(self, started: int, expected: Sequence[str], error: str | None) -> None:
        with guarded("temporal: reporting the workflow run"):
            if temporalio.workflow.unsafe.is_replaying():
                return  # recorded when it happened for real
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            info = temporalio.workflow.info()
            report = temporalio.workflow.extern_functions()[_EXTERN]
            report(
                _WorkflowFinished(
                    carrier=carrier, workflow_type=info.workflow_type,
                    workflow_id=info.workflow_id, run_id=info.run_id,
                    task_queue=info.task_queue, attempt=info.attempt, started_ns=started,
                    expected_effects=tuple(str(e) for e in expected), error=error,
                )
            )  # fmt: skip
