"""The wall clock, injected: what time it is for the engine, the sidecar and the store.

Whatever stamps a time (the moment an evaluation runs "as of", when a finding was seen, when
spans were committed) takes a ``Clock`` and asks it, instead of reading ``datetime.now`` or
``time.time`` itself. ``SYSTEM_CLOCK`` is the real one and every such parameter defaults to
it; tests pass a ``FixedClock`` so that what is pending, and every stamp, is the same on
every run.

Times are UTC: ``now_ns()`` in nanoseconds since the Unix epoch (the unit of span
timestamps), ``now()`` as an aware ``datetime``; ``naive_utc`` gives the naive UTC
``datetime`` the store's ``TIMESTAMP`` columns hold. Durations measured for statistics
(``time.perf_counter``, ``time.monotonic``) are not times of day and stay where they are.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now_ns(self) -> int:
        """Now, in nanoseconds since the Unix epoch."""
        ...

    def now(self) -> datetime:
        """Now, as an aware UTC datetime (microseconds)."""
        ...


def from_ns(ns: int) -> datetime:
    """``ns`` since the epoch as an aware UTC datetime (exact to the microsecond)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as the naive UTC datetime a ``TIMESTAMP`` column stores."""
    return moment.astimezone(UTC).replace(tzinfo=None)


class SystemClock:
    """The machine's clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def now(self) -> datetime:
        return from_ns(self.now_ns())


SYSTEM_CLOCK: Clock = SystemClock()


class FixedClock:
    """A clock that stands still at ``at_ns`` until moved (tests, replays)."""

    def __init__(self, at_ns: int) -> None:
        self.at_ns = at_ns

    @classmethod
    def at(cls, moment: datetime) -> FixedClock:
        """Standing at ``moment`` (naive means UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        return cls((delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000)

    def advance(self, seconds: float) -> None:
        self.at_ns += round(seconds * 1e9)

    def now_ns(self) -> int:
        return self.at_ns

    def now(self) -> datetime:
        return from_ns(self.at_ns)
