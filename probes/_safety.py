"""The one rule of code that runs inside users' workers: a probe never raises into job code.

``guarded(what)`` is a context manager that swallows (and logs, once per place) any exception
raised by the probe's *own* work — starting a span, setting an attribute, reading a framework
object. It is used around probe internals only, never around the user's block, whose
exceptions must propagate unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

logger = logging.getLogger("probes")

_reported: set[str] = set()


@contextlib.contextmanager
def guarded(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # the probe's own failure: log it, never propagate it
        if what not in _reported:
            _reported.add(what)
            logger.warning(
                "probes: %s failed (%s: %s); the job goes on", what, type(exc).__name__, exc
            )
        else:
            logger.debug("probes: %s failed again", what, exc_info=True)
