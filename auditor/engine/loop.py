"""The sidecar's evaluation loop: re-evaluate the rules while spans keep arriving.

A background thread wakes every ``interval`` seconds and, when new spans were committed
since its last pass — or when the grace window of a pending finding has closed since, as time
alone turns a pending finding into an open one, on a quiet queue too — evaluates every rule as
of now (so a done job inside its grace window is ``pending``, not yet a lie) and keeps the
findings in the store (``origin = serve``). Findings no longer produced (the late
confirmation arrived) become ``resolved``.

A person running ``audit serve`` hears of every change: one log line per finding that opens
or resolves (rule, kind, job, key, trace id; with ``--log-format json`` the same fields as
JSON), and a summary line a minute. The changes also go to the alerting hook (``on_change``).

Each pass is incremental (``engine/incremental.py``): it derives and judges only what
arrived since the watermark kept in the store, and the findings whose grace window closed,
so its cost follows the new spans, not the store, and the loop runs every ``interval``
(never more often than ``MIN_WAIT_S``, and never sooner than the last pass took again), at a
lower scheduling priority than ingestion. The watermark is kept in the store: a restart
neither re-alerts nor skips. The first pass of a store (or after the rules changed) is a
full one.
It runs on its own DuckDB connection (a cursor of the writer's), so it never blocks ingest.
"Now" is the injected ``Clock``'s (the system clock unless a test fixes it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from auditor.clock import SYSTEM_CLOCK, Clock
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import DEFAULT_WITHIN_S
from auditor.engine.incremental import Incremental, next_due_ns
from auditor.store.duck import DuckStore
from auditor.store.retention import drop_old_spans

log = logging.getLogger(__name__)


@dataclass
class LoopStats:
    passes: int = 0
    last_batch: int = 0
    last_seconds: float = 0.0
    findings: int = 0
    failing: int = 0
    pending: int = 0
    opened: int = 0  # findings that opened, since the start
    resolved: int = 0  # open findings that resolved, since the start
    last_pass_ns: int = 0  # when the last pass evaluated ("as of")
    lag_s: float = 0.0  # how old the newest evaluated batch was when its pass ended
    next_due_ns: int = 0  # when the first pending finding's grace window closes (0: none)
    spans_dropped: int = 0  # by retention, since the start
    last_error: str = ""


# What is told of a finding that opens or resolves (log lines, JSON log fields).
_TOLD = ("rule_id", "kind", "severity", "system", "job_name", "job_id", "effect_key", "trace_id")
SUMMARY_EVERY_S = 60.0
MIN_WAIT_S = 0.05  # the shortest wait between two passes, whatever ``interval`` says
RETAIN_EVERY_S = 60.0

ChangeHook = Callable[[duckdb.DuckDBPyConnection, tuple[str, ...], tuple[str, ...]], None]


class EvaluationLoop:
    def __init__(
        self,
        store: DuckStore,
        catalog: Catalog,
        interval_s: float,
        grace_s: float = DEFAULT_WITHIN_S,
        clock: Clock = SYSTEM_CLOCK,
        on_change: ChangeHook | None = None,
        retention_s: float = 0.0,
        horizon_s: float | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.clock = clock
        self.on_change = on_change  # (connection, opened, resolved) after each pass
        self.retention_s = retention_s  # 0: keep every span
        self._retained_ns = 0
        self.incremental = Incremental(catalog, grace_s, horizon_s)
        self.stats = LoopStats()
        self._summarized_ns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditor-evaluate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def run_once(self) -> bool:
        """One pass if anything new was committed or a pending finding is due; True when it
        evaluated."""
        con = self.store.cursor()
        try:
            now_ns = self.clock.now_ns()  # one reading: a finding is pending "as of" it
            if not self.incremental.due(con, now_ns):
                self._summarize(con)
                return False
            started = time.perf_counter()
            tick = self.incremental.tick(con, now_ns)
            saved = tick.saved
            self._tell(con, saved.opened, "opened")
            self._tell(con, saved.closed, "resolved")
            if self.on_change is not None:
                self.on_change(con, saved.opened, saved.closed)
            states = dict(
                con.execute(
                    "SELECT state, count(*) FROM findings WHERE origin = 'serve' GROUP BY state"
                ).fetchall()
            )
            stats = self.stats
            stats.passes += 1
            stats.last_batch = tick.batch
            stats.last_seconds = round(time.perf_counter() - started, 3)
            stats.findings = int(states.get("open", 0) + states.get("pending", 0))
            stats.failing = int(states.get("open", 0))
            stats.pending = int(states.get("pending", 0))
            stats.opened += len(saved.opened)
            stats.resolved += len(saved.closed)
            stats.last_pass_ns = now_ns
            stats.lag_s = round(self._age_s(con, tick.batch), 3)
            stats.next_due_ns = next_due_ns(con, self.catalog, self.grace_s)
            stats.last_error = ""
            self._summarize(con)
            return True
        finally:
            con.close()

    def _age_s(self, con: duckdb.DuckDBPyConnection, batch: int) -> float:
        """Seconds between the commit of ``batch`` and now (0 when there is none)."""
        row = con.execute(
            "SELECT epoch_us(committed_at) FROM auditor_batches WHERE batch_id = ?", [batch]
        ).fetchall()
        if not row or row[0][0] is None:
            return 0.0
        return max(0.0, (self.clock.now_ns() / 1e3 - row[0][0]) / 1e6)

    def _tell(
        self, con: duckdb.DuckDBPyConnection, fingerprints: tuple[str, ...], what: str
    ) -> None:
        """One log line per finding that opened or resolved."""
        if not fingerprints:
            return
        columns = ", ".join(_TOLD)
        rows = con.execute(
            f"SELECT fingerprint, {columns} FROM findings WHERE fingerprint IN "
            "(SELECT unnest(?::VARCHAR[])) ORDER BY fingerprint",
            [list(fingerprints)],
        ).fetchall()
        for fingerprint, *values in rows:
            told = dict(zip(_TOLD, values, strict=True))
            job = f"{told['system']} {told['job_name'] or '-'} {told['job_id'] or '-'}"
            key = f" key {told['effect_key']}" if told["effect_key"] else ""
            log.warning(
                "finding %s: %s %s (%s) job %s%s trace %s [%s]",
                what, told["rule_id"], told["kind"], told["severity"], job, key,
                told["trace_id"] or "-", fingerprint,
                extra={"finding": {"change": what, "fingerprint": fingerprint, **told}},
            )  # fmt: skip

    def _summarize(self, con: duckdb.DuckDBPyConnection) -> None:
        """A summary line a minute: what is open and pending, and how evaluation keeps up."""
        now = self.clock.now_ns()
        if now - self._summarized_ns < SUMMARY_EVERY_S * 1e9:
            return
        self._summarized_ns = now
        s = self.stats
        log.info(
            "evaluation: %d open, %d pending; %d opened and %d resolved since start; "
            "%d passes, last %.3f s, lag %.1f s",
            s.failing, s.pending, s.opened, s.resolved, s.passes, s.last_seconds, s.lag_s,
            extra={"summary": {"open": s.failing, "pending": s.pending, "opened": s.opened,
                               "resolved": s.resolved, "passes": s.passes,
                               "last_seconds": s.last_seconds, "lag_s": s.lag_s}},
        )  # fmt: skip

    def _wait_s(self) -> float:
        """The configured interval, with a floor: never less than ``MIN_WAIT_S``, nor than
        the last pass took (a full first pass over a large store must not starve ingest)."""
        return max(self.interval_s, MIN_WAIT_S, self.stats.last_seconds)

    def retain(self) -> int:
        """Drop the spans past the retention period (at most once a minute); how many."""
        now = self.clock.now_ns()
        if self.retention_s <= 0 or now - self._retained_ns < RETAIN_EVERY_S * 1e9:
            return 0
        self._retained_ns = now
        con = self.store.cursor()
        try:
            dropped = drop_old_spans(con, now, self.retention_s)
        finally:
            con.close()
        self.stats.spans_dropped += dropped
        if dropped:
            log.info("retention: dropped %d spans older than %.0f s", dropped, self.retention_s)
        return dropped

    def _run(self) -> None:
        # Ingestion (acknowledging clients) comes first: this thread runs at a lower
        # scheduling priority (Linux schedules threads one by one).
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        while not self._stop.wait(self._wait_s()):
            try:
                self.run_once()
                self.retain()
            except Exception as exc:  # keep serving; say what failed
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("evaluation pass failed")
