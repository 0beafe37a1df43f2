"""The job the current code runs in: a context variable the adapters set and ``confirm()`` reads.

An adapter (or ``probes.job_run`` for a home-grown job system) enters a ``JobContext`` when a
job starts executing and leaves it when the job ends. Inside, ``confirm()`` fills ``job.id``
and ``job.system`` by itself, ``expects()`` and ``mark_done()`` find the job run span, and
``once()`` remembers the idempotency key.

The run span is whatever span represents this execution: the adapter's own, or the one the
framework's OpenTelemetry instrumentation created (then a resolver finds it lazily, because
signal handlers of two instrumentations may run in either order).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from opentelemetry import trace

_current: contextvars.ContextVar[JobContext | None] = contextvars.ContextVar(
    "probes_current_job", default=None
)


@dataclass
class JobContext:
    """One execution of one job, as far as the probes know it."""

    system: str
    id: str
    name: str | None = None
    queue: str | None = None
    attempt: int | None = None
    #: The job's business key (``job.key``), for rules that correlate by key.
    key: str | None = None
    #: The provider confirmations use inside this job (the adapter's ``tracer_provider``).
    tracer_provider: trace.TracerProvider | None = None
    #: Finds the run span when the adapter did not create it (official instrumentation).
    span_resolver: Callable[[], trace.Span | None] | None = None
    done_marked: bool = False
    #: ``retry`` or ``failed`` when the job code said so (``probes.mark_retry`` / ``mark_failed``).
    outcome_marked: str | None = None
    outcome_reason: str | None = None
    expected_effects: list[str] = field(default_factory=list)
    idempotency_key: str | None = None
    _run_span: trace.Span | None = None

    @property
    def run_span(self) -> trace.Span:
        """The job run span, or the current span when no better one is known."""
        if self._run_span is None and self.span_resolver is not None:
            try:
                self._run_span = self.span_resolver()
            except Exception:
                self._run_span = None
        if self._run_span is not None:
            return self._run_span
        return trace.get_current_span()

    @run_span.setter
    def run_span(self, span: trace.Span | None) -> None:
        self._run_span = span


def current_job() -> JobContext | None:
    """The job the calling code runs in, or None outside a job (or without an adapter)."""
    return _current.get()


def enter_job(job: JobContext) -> contextvars.Token[JobContext | None]:
    return _current.set(job)


def leave_job(token: contextvars.Token[JobContext | None]) -> None:
    try:
        _current.reset(token)
    except ValueError:  # reset from another context (a framework hook on another task)
        _current.set(None)


@contextlib.contextmanager
def in_job(job: JobContext) -> Iterator[JobContext]:
    token = enter_job(job)
    try:
        yield job
    finally:
        leave_job(token)
