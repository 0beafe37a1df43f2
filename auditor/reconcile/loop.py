"""One reconciliation round, and the loop that runs it every N seconds.

A round: fetch rows → the confirmations not in the state → spans → export → on
acknowledgement, remember them. A failed round (source down, collector down) is reported as
one line and retried at the next tick; with ``once`` it is the command's error.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from auditor.errors import AuditError, InputError
from auditor.reconcile.export import ConfirmationExporter
from auditor.reconcile.rows import Columns, check_columns, confirmation
from auditor.reconcile.sources import Rows
from auditor.reconcile.state import State


@dataclass(frozen=True)
class Round:
    rows: int
    new: int
    known: int


def reconcile_once(
    fetch: Callable[[], Rows], columns: Columns, state: State, exporter: ConfirmationExporter
) -> Round:
    names, rows = fetch()
    if rows or names:
        check_columns(names, columns)
    new, seen = [], set()
    known = 0
    for row in rows:
        found = confirmation(row, columns)
        if found is None or found.identity in seen:
            continue
        seen.add(found.identity)
        if found.identity in state:
            known += 1
        else:
            new.append(found)
    spans = [exporter.span(c) for c in new]
    if not exporter.export(spans):
        raise InputError(
            f"could not export {len(spans)} confirmation(s) to {exporter.url} "
            "(is audit serve or the collector running?)"
        )
    if new:
        state.add([c.identity for c in new])
        state.save()
    return Round(len(rows), len(new), known)


def _say(message: str) -> None:
    print(f"audit probe: {message}", file=sys.stderr, flush=True)


def run(
    fetch: Callable[[], Rows],
    columns: Columns,
    state: State,
    exporter: ConfirmationExporter,
    *,
    every: float,
    once: bool,
    stop: threading.Event | None = None,
) -> int:
    stop = stop or threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while True:
            try:
                result = reconcile_once(fetch, columns, state, exporter)
                _say(
                    f"{result.new} new confirmation(s) of {columns.effect} exported "
                    f"({result.known} already confirmed, {result.rows} row(s))"
                )
            except AuditError as exc:
                if once:
                    raise
                _say(f"error: {exc} (retrying in {every:g}s)")
            if once or stop.wait(every):
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        exporter.close()
