"""What job code calls: ``confirm``, ``expects``, ``mark_done``, ``once``.

* ``confirm(effect, key=None, job_id=None, *, verify=None, **attributes)`` — a context manager
  and a decorator that wraps the *verification* of a side effect (the SMTP server's 250, the
  payment API's "captured") in a ``side_effect.confirm`` span, a child of the current span. If
  the block raises, the span gets ``Status(ERROR)``, an ``exception`` event and
  ``side_effect.status=error``, and the exception propagates unchanged. ``verify`` is a
  read-back run after the block (or the decorated call) succeeded: a falsy answer makes it a
  failed confirmation (``side_effect.reason=verification_failed``), without raising. ``job.id``
  / ``job.system`` come from the current job (an adapter sets it) unless given.
* ``expects(*effects)`` — a decorator for a job function: records ``job.expected_effects`` on
  the job run span, which the built-in rule ``declared-effects-confirmed`` checks. The
  decorated function also carries the names (``__probes_expected_effects__``) for adapters
  that record them elsewhere (a Temporal workflow's run method).
* ``mark_done(**attributes)`` — the ``job.done`` event, for code that marks jobs done itself.
* ``once(key)`` — makes the idempotency key of what follows visible: later confirmations in
  the job carry it as ``side_effect.key``, so a retry that repeats the effect is a duplicate.

Every probe follows the OpenTelemetry etiquette: it does nothing costly when the span is not
recording, and it never raises into job code (``probes._safety.guarded``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from probes import semconv
from probes._safety import guarded
from probes._tracer import get_tracer
from probes.jobs import current_job

F = TypeVar("F", bound=Callable[..., Any])

#: ``once(key)`` outside any job: the key for confirmations in this context.
_key_outside_job: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "probes_idempotency_key", default=None
)

Key = str | int | Callable[..., Any] | None

_PRIMITIVES = (str, bool, int, float)


def _attribute_value(value: Any) -> Any:
    """A value OpenTelemetry accepts: primitives and homogeneous sequences; else its text."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return str(value)


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _attribute_value(v) for k, v in attributes.items() if v is not None}


def _current_key() -> str | None:
    job = current_job()
    if job is not None and job.idempotency_key is not None:
        return job.idempotency_key
    return _key_outside_job.get()


def _name_of(call: Callable[..., Any]) -> str:
    while isinstance(call, functools.partial):
        call = call.func
    return str(getattr(call, "__qualname__", None) or getattr(call, "__name__", None) or call)


class confirm:
    """Emit a ``side_effect.confirm`` span around the verification of a side effect.

    ``verify``, when given, is a read-back that runs once the block (or the decorated call)
    succeeded, inside the span: the row exists, the provider reports the message accepted. A
    truthy answer confirms; a falsy one records a failed confirmation (``Status(ERROR)``,
    ``side_effect.status=error``, ``side_effect.reason=verification_failed``) without
    raising; an exception it raises is recorded (``side_effect.reason=verification_error``)
    and propagates. As a context manager it is called with no argument; as a decorator with
    the decorated function's return value, then its arguments: ``verify(result, *args,
    **kwargs)``. In ``async with`` and on a coroutine function it may be ``async`` too.
    """

    def __init__(
        self,
        effect: str,
        key: Key = None,
        job_id: str | None = None,
        *,
        verify: Callable[..., Any] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        **attributes: Any,
    ) -> None:
        self.effect = effect
        self.key = key
        self.job_id = job_id
        self.verify = verify
        self.attributes = attributes
        self.tracer_provider = tracer_provider
        self.span: trace.Span = trace.INVALID_SPAN
        self._token: object | None = None
        self._failed: str | None = None
        self._reason: str | None = None

    # -- the handle, inside the block

    def fail(self, reason: str) -> None:
        """Mark the verification failed without raising (the effect was checked: it is not there)."""
        self._failed = reason

    def set_key(self, key: str | int) -> None:
        """Set ``side_effect.key`` once it is known inside the block."""
        with guarded("confirm.set_key"):
            if self.span.is_recording():
                self.span.set_attribute(semconv.SIDE_EFFECT_KEY, str(key))

    # -- context manager

    def _attributes(self, key: Any) -> dict[str, Any]:
        job = current_job()
        attributes: dict[str, Any] = {semconv.SIDE_EFFECT_NAME: str(self.effect)}
        if key is None:
            key = _current_key()
        if key is not None:
            attributes[semconv.SIDE_EFFECT_KEY] = str(key)
        job_id = self.job_id if self.job_id is not None else (job.id if job else None)
        if job_id is not None:
            attributes[semconv.JOB_ID] = str(job_id)
        if job is not None:
            attributes[semconv.JOB_SYSTEM] = job.system
            attributes.update(job.attributes)
        attributes.update(_clean(self.attributes))
        return attributes

    def _start(self, key: Any) -> None:
        self._failed = None
        self._reason = None
        with guarded("confirm: starting the side_effect.confirm span"):
            tracer = get_tracer(self.tracer_provider)
            self.span = tracer.start_span(
                semconv.SIDE_EFFECT_CONFIRM_SPAN,
                kind=SpanKind.INTERNAL,
                attributes=self._attributes(key),
            )
            self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def _finish(self, exc: BaseException | None) -> None:
        with guarded("confirm: ending the side_effect.confirm span"):
            span, token = self.span, self._token
            self._token = None
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]
            if span.is_recording():
                if exc is not None:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                    span.set_attribute(semconv.SIDE_EFFECT_STATUS, "error")
                elif self._failed is not None:
                    span.set_status(Status(StatusCode.ERROR, self._failed))
                    span.set_attribute(semconv.SIDE_EFFECT_STATUS, "error")
                else:
                    span.set_attribute(semconv.SIDE_EFFECT_STATUS, "ok")
                if self._reason is not None and (exc is not None or self._failed is not None):
                    span.set_attribute(semconv.SIDE_EFFECT_REASON, self._reason)
            span.end()

    # -- the read-back

    def _judge(self, verify: Callable[..., Any], answer: Any) -> None:
        if not answer:
            self._failed = f"verification failed: {_name_of(verify)} returned {answer!r}"
            self._reason = semconv.SideEffectReasonValues.VERIFICATION_FAILED.value

    def _verify(self, verify: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``verify`` (sync); its exception is recorded by the caller's ``_finish``."""
        try:
            answer = verify(*args, **kwargs)
        except BaseException:
            self._reason = semconv.SideEffectReasonValues.VERIFICATION_ERROR.value
            raise
        if inspect.isawaitable(answer):  # an async read-back in a sync block: not run
            close = getattr(answer, "close", None)
            if callable(close):
                close()
            self._failed = f"verification not run: {_name_of(verify)} is async; use async with"
            self._reason = semconv.SideEffectReasonValues.VERIFICATION_ERROR.value
            return
        self._judge(verify, answer)

    async def _verify_async(self, verify: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            answer = verify(*args, **kwargs)
            if inspect.isawaitable(answer):
                answer = await answer
        except BaseException:
            self._reason = semconv.SideEffectReasonValues.VERIFICATION_ERROR.value
            raise
        self._judge(verify, answer)

    def __enter__(self) -> confirm:
        self._start(None if callable(self.key) else self.key)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and self.verify is not None:
            try:
                self._verify(self.verify)
            except BaseException as failure:
                self._finish(failure)
                raise
        self._finish(exc)  # returns None: the block's exception propagates unchanged

    async def __aenter__(self) -> confirm:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and self.verify is not None:
            try:
                await self._verify_async(self.verify)
            except BaseException as failure:
                self._finish(failure)
                raise
        self._finish(exc)

    # -- decorator

    def _fresh(self) -> confirm:
        return confirm(
            self.effect, self.key, self.job_id, verify=self.verify,
            tracer_provider=self.tracer_provider, **self.attributes,
        )  # fmt: skip

    def _key_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if callable(self.key):
            with guarded("confirm: computing the key"):
                return self.key(*args, **kwargs)
            return None
        return self.key

    def __call__(self, func: F) -> F:
        """Decorate a function (sync or async): each call is one verification."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                probe = self._fresh()
                probe._start(self._key_for(args, kwargs))
                try:
                    result = await func(*args, **kwargs)
                    if probe.verify is not None:
                        await probe._verify_async(probe.verify, result, *args, **kwargs)
                except BaseException as exc:
                    probe._finish(exc)
                    raise
                probe._finish(None)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            probe = self._fresh()
            probe._start(self._key_for(args, kwargs))
            try:
                result = func(*args, **kwargs)
                if probe.verify is not None:
                    probe._verify(probe.verify, result, *args, **kwargs)
            except BaseException as exc:
                probe._finish(exc)
                raise
            probe._finish(None)
            return result

        return wrapper  # type: ignore[return-value]


def _declare(effects: tuple[str, ...]) -> None:
    with guarded("expects: recording job.expected_effects"):
        job = current_job()
        names = [str(e) for e in effects]
        if job is not None:
            for name in names:
                if name not in job.expected_effects:
                    job.expected_effects.append(name)
            names = list(job.expected_effects)
            span = job.run_span
        else:
            span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(semconv.JOB_EXPECTED_EFFECTS, names)


def expects(*effects: str) -> Callable[[F], F]:
    """Decorate a job function: each run must confirm every one of ``effects``."""

    def decorate(func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                _declare(effects)
                return await func(*args, **kwargs)

            async_wrapper.__probes_expected_effects__ = effects  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _declare(effects)
            return func(*args, **kwargs)

        wrapper.__probes_expected_effects__ = effects  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def mark_done(**attributes: Any) -> None:
    """Add the ``job.done`` event to the job run span: the job is marked done *now*."""
    with guarded("mark_done: adding the job.done event"):
        job = current_job()
        event = _clean(attributes)
        if job is not None:
            job.done_marked = True
            event.setdefault(semconv.JOB_ID, job.id)
            span = job.run_span
        else:
            span = trace.get_current_span()
        if span.is_recording():
            span.add_event(semconv.JOB_DONE_EVENT, event)


class once:
    """Make ``key`` the idempotency key of the side effects that follow in this job.

    Takes effect when called; used as a context manager it also ends there::

        probes.once(order.id)              # for the rest of the job
        with probes.once(order.id): ...    # for this block
    """

    def __init__(self, key: str | int) -> None:
        self.key = str(key)
        self._previous: str | None = None
        self._token: contextvars.Token[str | None] | None = None
        with guarded("once: recording the idempotency key"):
            job = current_job()
            if job is not None:
                self._previous = job.idempotency_key
                job.idempotency_key = self.key
                span = job.run_span
                if self._previous is None and span.is_recording():  # the job's own key
                    span.set_attribute(semconv.SIDE_EFFECT_KEY, self.key)
            else:
                self._token = _key_outside_job.set(self.key)

    def __enter__(self) -> once:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with guarded("once: restoring the idempotency key"):
            job = current_job()
            if self._token is not None:
                _key_outside_job.reset(self._token)
                self._token = None
            elif job is not None and job.idempotency_key == self.key:
                job.idempotency_key = self._previous
