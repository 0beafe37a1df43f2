"""The time, injected: what "now" is for an evaluation, a store stamp or a grace window.

Code that needs the time takes a ``Clock`` (default ``SYSTEM``) instead of calling
``datetime.now``, so tests pin it (``FixedClock``) and an evaluation is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


SYSTEM: Clock = SystemClock()


def now_ns(clock: Clock) -> int:
    """The clock's time in nanoseconds since the epoch."""
    return int(clock.now().timestamp() * 1e9)
