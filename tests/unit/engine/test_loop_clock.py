"""The sidecar's evaluation loop reads "now" from the clock it is given: a done job is
pending inside its grace as of the clock's time and open past it, and the findings it keeps
are stamped with the clock's time (first seen once, last seen on every pass)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.clock import FixedClock
from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.loop import EvaluationLoop
from auditor.otlp.otlpjson import decode_json_object
from auditor.rules.testing import BASE_TIME_NS, spans_to_request
from auditor.store.duck import DuckStore

RULE = """
rules:
  - id: email
    severity: high
    jobs: {system: celery}
    expect: {effect: email.sent, within: 5m}
"""

DONE_WITHOUT_EMAIL = {
    "trace": "t1", "span": "run", "name": "run/tasks.send", "kind": "consumer",
    "start": "0ms", "end": "20ms",
    "attributes": {"celery.task_name": "tasks.send", "messaging.message.id": "j1",
                   "celery.state": "SUCCESS"},
}  # fmt: skip
NOISE = {"trace": "t2", "span": "other", "name": "unrelated", "start": "0ms", "end": "1ms"}


def _add(store: DuckStore, *spans: Mapping[str, Any]) -> None:
    batch = decode_json_object(spans_to_request(list(spans)))
    store.insert(batch.to_arrow())


def _finding(store: DuckStore) -> dict[str, Any]:
    cursor = store.con.execute(
        "SELECT state, first_seen, last_seen FROM findings WHERE rule_id = 'email'"
    )
    [row] = cursor.fetchall()
    return dict(zip(("state", "first_seen", "last_seen"), row, strict=True))


def _catalog(tmp_path: Path) -> Catalog:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE, encoding="utf-8")
    return load_catalog([rules], packs=False)


def test_the_loop_evaluates_as_of_its_clock_and_stamps_findings_with_it(tmp_path: Path) -> None:
    clock = FixedClock(BASE_TIME_NS + 60 * 10**9)  # a minute after the job said done
    with DuckStore(":memory:", clock=clock) as store:
        _add(store, DONE_WITHOUT_EMAIL)
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=10, clock=clock)
        assert loop.run_once()
        first = _finding(store)
        assert first["state"] == "pending"  # inside the rule's 5m, as of the clock
        assert first["first_seen"] == first["last_seen"] == datetime(2026, 1, 1, 0, 1)

        clock.advance(600)  # ten minutes on: past the grace
        _add(store, NOISE)  # the loop evaluates only when something new was committed
        assert loop.run_once()
        later = _finding(store)
        assert later["state"] == "open"
        assert later["first_seen"] == datetime(2026, 1, 1, 0, 1)
        assert later["last_seen"] == datetime(2026, 1, 1, 0, 11)


def test_nothing_new_and_nothing_due_means_no_pass(tmp_path: Path) -> None:
    clock = FixedClock(BASE_TIME_NS)
    with DuckStore(":memory:", clock=clock) as store:
        _add(store, DONE_WITHOUT_EMAIL)
        loop = EvaluationLoop(store, _catalog(tmp_path), interval_s=10, clock=clock)
        assert loop.run_once()
        clock.advance(60)  # still inside the 5-minute grace
        assert not loop.run_once()
        assert _finding(store)["state"] == "pending"


CONFIRMED_LATE = {
    "trace": "t1", "span": "mail", "parent": "run", "name": "side_effect.confirm",
    "start": "10ms", "end": "15ms",
    "attributes": {"side_effect.name": "email.sent", "side_effect.key": "K-1", "job.id": "j1"},
}  # fmt: skip


def test_time_alone_opens_a_pending_finding_and_a_late_confirmation_resolves_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    changes: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    clock = FixedClock(BASE_TIME_NS + 60 * 10**9)
    with DuckStore(":memory:", clock=clock) as store:
        _add(store, DONE_WITHOUT_EMAIL)
        loop = EvaluationLoop(
            store, _catalog(tmp_path), interval_s=10, clock=clock,
            on_change=lambda con, opened, resolved: changes.append((opened, resolved)),
        )  # fmt: skip
        caplog.set_level(logging.INFO, logger="auditor.engine.loop")
        assert loop.run_once()
        assert _finding(store)["state"] == "pending"
        assert changes == [((), ())]

        clock.advance(300)  # the grace window closes: no new span is needed
        assert loop.run_once()
        assert _finding(store)["state"] == "open"
        [(opened, resolved)] = changes[1:]
        assert len(opened) == 1 and resolved == ()
        told = [r for r in caplog.records if getattr(r, "finding", None)]
        assert [r.finding["change"] for r in told] == ["opened"]
        assert "email unconfirmed_done (high) job celery tasks.send j1" in told[0].getMessage()
        assert not loop.run_once()  # nothing new, nothing pending

        _add(store, CONFIRMED_LATE)  # the confirmation arrives late
        assert loop.run_once()
        assert _finding(store)["state"] == "resolved"
        assert changes[-1] == ((), opened)
        told = [r for r in caplog.records if getattr(r, "finding", None)]
        assert [r.finding["change"] for r in told] == ["opened", "resolved"]
        assert loop.stats.opened == loop.stats.resolved == 1
