"""An evaluation pauses Python's cyclic garbage collector while it makes findings, and
gives it back as it found it, however evaluations overlap (the sidecar's loop and a scan)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import _collector_paused, evaluate
from tests.unit.engine.scanning import capture, store_with_spans


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_is_paused_during_an_evaluation_and_running_after(collector_on: None) -> None:
    seen = []
    with store_with_spans(files=[capture("celery")]) as store:
        real_execute = store.con.execute

        class Watching:
            def execute(self, *args: object) -> object:
                seen.append(gc.isenabled())
                return real_execute(*args)

            def __getattr__(self, name: str) -> object:
                return getattr(store.con, name)

        evaluation = evaluate(Watching(), load_catalog([]))  # type: ignore[arg-type]
    assert evaluation.findings  # the celery capture holds lies
    assert seen and not any(seen)
    assert gc.isenabled()


def test_overlapping_pauses_restore_the_collector_when_the_last_one_ends(
    collector_on: None,
) -> None:
    first = _collector_paused()
    second = _collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second evaluation still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_the_program_turned_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with _collector_paused():
        pass
    assert not gc.isenabled()
