"""The injected clock: the system clock tells the time, a fixed one stands still until moved,
and the sidecar's uptime is read from the clock it was given."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from auditor.clock import SYSTEM_CLOCK, FixedClock, from_ns, naive_utc
from auditor.config import Settings
from auditor.server import Server


def test_the_system_clock_tells_the_time_in_utc() -> None:
    before = time.time_ns()
    now_ns = SYSTEM_CLOCK.now_ns()
    now = SYSTEM_CLOCK.now()
    assert before <= now_ns <= time.time_ns()
    assert now.tzinfo is UTC
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5


def test_a_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock.at(datetime(2026, 1, 1, 0, 0, 0, 250))
    assert clock.now() == datetime(2026, 1, 1, 0, 0, 0, 250, tzinfo=UTC)
    assert clock.now_ns() == 1_767_225_600_000_250_000
    assert clock.now_ns() == clock.now_ns()
    clock.advance(1.5)
    assert clock.now() == datetime(2026, 1, 1, 0, 0, 1, 500_250, tzinfo=UTC)


def test_nanoseconds_and_datetimes_convert_both_ways() -> None:
    assert from_ns(1_767_225_600_123_456_789) == datetime(2026, 1, 1, 0, 0, 0, 123_456, tzinfo=UTC)
    assert naive_utc(datetime.fromisoformat("2026-01-01T02:00:00+02:00")) == datetime(2026, 1, 1)


def test_the_sidecar_reports_its_uptime_from_its_clock(tmp_path: Path) -> None:
    clock = FixedClock.at(datetime(2026, 1, 1))
    server = Server(Settings(store=tmp_path / "s.duckdb", evaluation_interval_s=0), clock)
    try:
        assert server.health()["uptime_s"] == 0
        clock.advance(12.5)
        assert server.health()["uptime_s"] == 12.5
    finally:
        server.store.close()
