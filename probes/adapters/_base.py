"""The instrumentor shape every adapter shares (modelled on opentelemetry-instrumentation's
``BaseInstrumentor``, which we do not depend on): one instance per class, ``instrument()``
and ``uninstrument()`` that are idempotent and never raise into the application."""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace

from probes.version import __version__

logger = logging.getLogger("probes")


class BaseAdapter:
    _instance: BaseAdapter | None = None
    _is_instrumented: bool = False
    _tracer_provider: trace.TracerProvider | None = None
    _tracer: trace.Tracer

    def __new__(cls, *args: Any, **kwargs: Any) -> BaseAdapter:
        if cls.__dict__.get("_instance") is None:
            cls._instance = object.__new__(cls)
        return cls._instance  # type: ignore[return-value]

    @property
    def is_instrumented(self) -> bool:
        return self._is_instrumented

    def instrument(
        self, *, tracer_provider: trace.TracerProvider | None = None, **kwargs: Any
    ) -> None:
        """Start recording jobs; a second call while instrumented does nothing."""
        if self._is_instrumented:
            logger.warning("probes: %s is already instrumented", type(self).__name__)
            return
        self._tracer_provider = tracer_provider
        self._tracer = trace.get_tracer(type(self).__module__, __version__, tracer_provider)
        try:
            self._instrument(**kwargs)
        except Exception:
            logger.exception("probes: could not instrument with %s", type(self).__name__)
            return
        self._is_instrumented = True

    def uninstrument(self) -> None:
        """Stop recording jobs; a call while not instrumented does nothing."""
        if not self._is_instrumented:
            logger.warning("probes: %s is not instrumented", type(self).__name__)
            return
        try:
            self._uninstrument()
        except Exception:
            logger.exception("probes: could not uninstrument %s", type(self).__name__)
        self._is_instrumented = False

    def _instrument(self, **kwargs: Any) -> None:
        raise NotImplementedError

    def _uninstrument(self) -> None:
        raise NotImplementedError


class Patches:
    """Method patches an adapter installs, removable in any order with other instrumentations.

    ``undo`` puts the original back only where our wrapper is still the outermost; where
    another instrumentation wrapped ours since, our wrapper stays and passes through (each
    wrapper checks its adapter's ``is_instrumented``).
    """

    _MISSING = object()

    def __init__(self) -> None:
        self._applied: list[tuple[Any, str, Any, Any]] = []

    def wrap(self, owner: Any, name: str, make_wrapper: Any) -> None:
        own = owner.__dict__.get(name, self._MISSING)
        wrapper = make_wrapper(getattr(owner, name))
        setattr(owner, name, wrapper)
        self._applied.append((owner, name, own, wrapper))

    def undo(self) -> None:
        for owner, name, own, wrapper in reversed(self._applied):
            if owner.__dict__.get(name) is not wrapper:
                continue  # wrapped again by someone else: ours stays, passing through
            if own is self._MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        self._applied.clear()
