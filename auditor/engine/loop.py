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
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow.compute as pc

from auditor.clock import SYSTEM_CLOCK, Clock, from_ns, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import DEFAULT_WITHIN_S, Evaluation, evaluate, within_s
from auditor.findings.model import Kind
from auditor.store.duck import DuckStore
from auditor.store.findings import save_findings
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
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.clock = clock
        self.on_change = on_change  # (connection, opened, resolved) after each pass
        self.retention_s = retention_s  # 0: keep every span
        self._retained_ns = 0
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

    def _latest_batch(self, con: duckdb.DuckDBPyConnection) -> int:
        row = con.execute("SELECT coalesce(max(batch_id), 0) FROM auditor_batches").fetchall()
        return int(row[0][0])

    def _next_due_ns(self, evaluation: Evaluation) -> int:
        """When the first pending finding's grace window closes (0: nothing is pending)."""
        pending = evaluation.findings.select(
            pc.equal(evaluation.findings.table["state"], "pending")
        )
        rules = {r.id: r for r in self.catalog.enabled_rules()}
        due = []
        for f in pending:
            rule = rules.get(f.rule_id)
            if rule is None:
                continue
            if f.kind is Kind.LOST_JOB:
                start = next((e.start_ns for e in f.evidence if e.role == "enqueue"), None)
                if start is not None:
                    due.append(start + round((rule.complete_within_s or 0) * 1e9))
            elif f.done_at_ns is not None:
                due.append(f.done_at_ns + round(within_s(rule, self.grace_s) * 1e9))
        return min(due, default=0)

    def run_once(self) -> bool:
        """One pass if anything new was committed or a finding is pending; True when it
        evaluated."""
        con = self.store.cursor()
        try:
            latest = self._latest_batch(con)
            due = self.stats.next_due_ns
            if latest == self.stats.last_batch and not (due and self.clock.now_ns() >= due):
                self._summarize(con)
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
            saved = save_findings(
                con,
                evaluation.findings,
                "serve",
                naive_utc(from_ns(now_ns)),
                [r.id for r in self.catalog.enabled_rules()],
            )
            self._tell(con, saved.opened, "opened")
            self._tell(con, saved.closed, "resolved")
            if self.on_change is not None:
                self.on_change(con, saved.opened, saved.closed)
            states = evaluation.findings.counts("state")
            stats = self.stats
            stats.passes += 1
            stats.last_batch = latest
            stats.last_seconds = round(time.perf_counter() - started, 3)
            stats.findings = len(evaluation.findings)
            stats.failing = states.get("open", 0)
            stats.pending = states.get("pending", 0)
            stats.opened += len(saved.opened)
            stats.resolved += len(saved.closed)
            stats.last_pass_ns = now_ns
            stats.lag_s = round(self._age_s(con, latest), 3)
            stats.next_due_ns = self._next_due_ns(evaluation)
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
        """The configured interval, stretched so that evaluating takes at most a tenth of
        the time: a full pass over a large store must not starve ingestion."""
        return max(self.interval_s, 9 * self.stats.last_seconds)

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
