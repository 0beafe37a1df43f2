"""The sidecar's loop keeps its watermark in the store: a restart neither re-alerts nor skips,
a tick re-judges only the units that changed, and a person's triage outlives every tick."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from auditor.clock import FixedClock
from auditor.engine.incremental import read_watermark
from auditor.engine.loop import MIN_WAIT_S, EvaluationLoop
from auditor.rules.testing import BASE_TIME_NS
from auditor.store.duck import DuckStore
from tests.unit.engine.test_loop_clock import (
    CONFIRMED_LATE,
    DONE_WITHOUT_EMAIL,
    _add,
    _catalog,
)

OTHER_JOB = {
    **DONE_WITHOUT_EMAIL,
    "trace": "t9",
    "attributes": {**DONE_WITHOUT_EMAIL["attributes"], "messaging.message.id": "j9"},
}


NOISE_IN_T9 = {"trace": "t9", "span": "late", "name": "unrelated", "start": "30ms", "end": "31ms"}


def _changes(loop: EvaluationLoop, log: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
    loop.on_change = lambda con, opened, resolved: log.append((opened, resolved))


def test_a_restart_resumes_at_the_watermark_without_telling_anything_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "auditor.duckdb"
    clock = FixedClock(BASE_TIME_NS + 600 * 10**9)  # past the 5-minute grace
    told: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    with DuckStore(path, clock=clock) as store:
        _add(store, DONE_WITHOUT_EMAIL)
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=10, clock=clock)
        _changes(loop, told)
        assert loop.run_once()
        assert len(told) == 1 and len(told[0][0]) == 1  # opened once
        watermark = read_watermark(store.con)[0]
        assert watermark > 0
    with DuckStore(path, clock=clock) as store:  # a restart
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=10, clock=clock)
        _changes(loop, told)
        assert not loop.run_once()  # nothing new since the watermark, nothing due
        assert len(told) == 1
        _add(store, OTHER_JOB)  # spans that arrive after the restart are not skipped
        assert loop.run_once()
        [(opened, resolved)] = told[1:]
        assert len(opened) == 1 and resolved == ()
        assert read_watermark(store.con)[0] > watermark
        states = store.con.execute("SELECT job_id, state FROM findings ORDER BY job_id").fetchall()
        assert states == [("j1", "open"), ("j9", "open")]


def test_a_tick_leaves_the_units_it_did_not_rejudge_and_triage_as_they_are(
    tmp_path: Path,
) -> None:
    clock = FixedClock(BASE_TIME_NS + 600 * 10**9)
    with DuckStore(":memory:", clock=clock) as store:
        _add(store, DONE_WITHOUT_EMAIL, OTHER_JOB)
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=10, clock=clock)
        assert loop.run_once()
        store.con.execute("UPDATE findings SET triage = 'acknowledged' WHERE job_id = 'j1'")
        clock.advance(5)
        _add(store, CONFIRMED_LATE)  # trace t1 only: j1 is re-judged, j9 is not
        assert loop.run_once()
        rows = store.con.execute(
            "SELECT job_id, state, triage, last_seen FROM findings ORDER BY job_id"
        ).fetchall()
        first = datetime(2026, 1, 1, 0, 10)
        assert rows == [
            ("j1", "resolved", "acknowledged", first),  # the person's triage stays
            ("j9", "open", "new", first),  # not judged again: last seen at the first tick
        ]
        clock.advance(5)
        _add(store, {**NOISE_IN_T9})  # a span in j9's trace: now it is judged again
        assert loop.run_once()
        seen = store.con.execute("SELECT last_seen FROM findings WHERE job_id = 'j9'").fetchall()
        assert seen == [(datetime(2026, 1, 1, 0, 10, 10),)]


def test_the_loop_waits_its_interval_with_a_floor_not_nine_times_the_last_pass(
    tmp_path: Path,
) -> None:
    with DuckStore(":memory:") as store:
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=0.0)
        loop.stats.last_seconds = 0.01
        assert loop._wait_s() == MIN_WAIT_S
        loop.interval_s = 2.0
        loop.stats.last_seconds = 0.5
        assert loop._wait_s() == 2.0
