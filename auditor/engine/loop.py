"""The sidecar's evaluation loop: re-evaluate the rules while spans keep arriving.

A background thread wakes every ``interval`` seconds and, when new spans were committed
since its last pass, evaluates every rule as of now (so a done job inside its grace window
is ``pending``, not yet a lie) and keeps the findings in the store (``origin = serve``).
Findings no longer produced (the late confirmation arrived) become ``resolved``.

This pass re-derives from the whole store: its cost grows with the store, so the loop waits
at least nine times as long as the last pass took (evaluation uses at most a tenth of the
time, whatever ``interval`` says), at a lower scheduling priority than ingestion. The incremental
form (cost in proportion to what arrived, bounded by batch watermarks on both sides of every
join) is the next step of the sidecar; until then keep ``interval`` long on big stores.
It runs on its own DuckDB connection (a cursor of the writer's), so it never blocks ingest.
"Now" is the injected ``Clock``'s (the system clock unless a test fixes it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass

import duckdb

from auditor.clock import SYSTEM_CLOCK, Clock, from_ns, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import DEFAULT_WITHIN_S, evaluate
from auditor.store.duck import DuckStore
from auditor.store.findings import save_findings

log = logging.getLogger(__name__)


@dataclass
class LoopStats:
    passes: int = 0
    last_batch: int = 0
    last_seconds: float = 0.0
    findings: int = 0
    failing: int = 0
    last_error: str = ""


class EvaluationLoop:
    def __init__(
        self,
        store: DuckStore,
        catalog: Catalog,
        interval_s: float,
        grace_s: float = DEFAULT_WITHIN_S,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.clock = clock
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditor-evaluate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _latest_batch(self, con: duckdb.DuckDBPyConnection) -> int:
        row = con.execute("SELECT coalesce(max(batch_id), 0) FROM auditor_batches").fetchall()
        return int(row[0][0])

    def run_once(self) -> bool:
        """One pass if anything new was committed; True when it evaluated."""
        con = self.store.cursor()
        try:
            latest = self._latest_batch(con)
            if latest == self.stats.last_batch:
                return False
            started = time.perf_counter()
            # One reading for both: a finding is pending "as of" the moment it is seen.
            now_ns = self.clock.now_ns()
            evaluation = evaluate(
                con,
                self.catalog,
                as_of_ns=now_ns,
                default_within_s=self.grace_s,
            )
            save_findings(
                con,
                evaluation.findings,
                "serve",
                naive_utc(from_ns(now_ns)),
                [r.id for r in self.catalog.enabled_rules()],
            )
            self.stats.passes += 1
            self.stats.last_batch = latest
            self.stats.last_seconds = round(time.perf_counter() - started, 3)
            self.stats.findings = len(evaluation.findings)
            self.stats.failing = evaluation.findings.counts("state").get("open", 0)
            self.stats.last_error = ""
            return True
        finally:
            con.close()

    def _wait_s(self) -> float:
        """The configured interval, stretched so that evaluating takes at most a tenth of
        the time: a full pass over a large store must not starve ingestion."""
        return max(self.interval_s, 9 * self.stats.last_seconds)

    def _run(self) -> None:
        # Ingestion (acknowledging clients) comes first: this thread runs at a lower
        # scheduling priority (Linux schedules threads one by one).
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while not self._stop.wait(self._wait_s()):
            try:
                self.run_once()
            except Exception as exc:  # keep serving; say what failed
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("evaluation pass failed")
