"""The dispatcher: delivers the outbox, one thread per sink, each with its own DuckDB cursor.

Per sink, messages go out one at a time, oldest first, so an alert's resolve never overtakes
its opening. A sink's thread waits only for its own sink: a sink that hangs (up to its
``timeout``) or is down (backing off) never delays another. Each thread:

1. takes its sink's oldest pending row (``outbox.next_row``); waits until it is due;
2. keeps the sink's pace (Slack about one message a second, PagerDuty two);
3. sends it (``senders``), and marks it ``sent`` only when the sink accepted it;
4. on a failure that may pass (no answer, 408/425/429/5xx, SMTP 4xx) schedules the next
   attempt after an exponential backoff with full jitter (``uniform(0, min(cap, base·2ⁿ))``,
   at least the sink's ``Retry-After``), and the sink's later rows wait behind it; on a final
   refusal, or once the row is older than the sink's ``give_up_after``, marks it ``failed``.

``stop()`` lets a send under way finish and be marked, so a stop never repeats a message. A
process killed while a message was being sent leaves that row pending: it is sent again by
the next dispatcher on the store (at least once; PagerDuty's ``dedup_key``, Alertmanager's
labels and the webhook ``id`` make the repeat harmless). Times are the injected clock's;
``deliver_due`` runs the same steps in the caller's thread, for tests with a fixed clock.

``stats()`` (per sink: pending, sent, failed, retries, last answer and error) and ``depth()``
feed ``/healthz`` and metrics. Errors are logged with the sink's secrets redacted.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

import duckdb

from auditor.alerts import formats, outbox
from auditor.alerts.config import AlertsConfig, SinkConfig
from auditor.alerts.model import rfc3339
from auditor.alerts.senders import Outcome, Sender, sender_for
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 600.0
POLL_S = 5.0  # how often an idle sink looks at the outbox when nobody wakes it
_MARK_TRIES = 5

Connect = Callable[[], duckdb.DuckDBPyConnection]
SenderFactory = Callable[[SinkConfig, Clock], Sender]


@dataclass
class SinkStats:
    sent: int = 0  # messages the sink accepted
    failed: int = 0  # messages given up: a final refusal, or older than give_up_after
    retries: int = 0  # attempts that failed and will be tried again
    last_answer: str = ""
    last_error: str = ""
    last_sent_at: str = ""


class Dispatcher:
    def __init__(
        self,
        connect: Connect,
        config: AlertsConfig,
        clock: Clock = SYSTEM_CLOCK,
        *,
        rng: random.Random | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        poll_s: float = POLL_S,
        sender_factory: SenderFactory = sender_for,
    ) -> None:
        self.connect = connect
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.poll_s = poll_s
        self.sender_factory = sender_factory
        self._stats = {s.name: SinkStats() for s in config.sinks}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wakes = {s.name: threading.Event() for s in config.sinks}
        self._threads: list[threading.Thread] = []
        self._last_send: dict[str, float] = {}

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for sink in self.config.sinks:
            thread = threading.Thread(
                target=self._run, args=(sink,), name=f"auditor-alerts-{sink.name}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop every sink's thread; a send under way finishes and is marked first."""
        self._stop.set()
        for wake in self._wakes.values():
            wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def wake(self) -> None:
        """Look at the outbox now (new rows were queued)."""
        for wake in self._wakes.values():
            wake.set()

    def _run(self, sink: SinkConfig) -> None:
        wake = self._wakes[sink.name]
        try:
            con = self.connect()
        except Exception:  # no store: nothing can be delivered; say so instead of dying mute
            log.exception("alerts: sink %s: cannot open the store; not delivering", sink.name)
            return
        sender = self.sender_factory(sink, self.clock)
        try:
            while not self._stop.is_set():
                wake.clear()
                try:
                    wait = self._step(con, sender, sink, paced=True)
                except duckdb.Error as exc:  # the store is busy or closing: try again later
                    log.warning("alerts: sink %s: reading the outbox failed: %s", sink.name, exc)
                    wait = self.poll_s
                if wait > 0:
                    wake.wait(wait)
        finally:
            sender.close()
            con.close()

    # ------------------------------------------------------------------ one step

    def _step(
        self, con: duckdb.DuckDBPyConnection, sender: Sender, sink: SinkConfig, *, paced: bool
    ) -> float:
        """Send the sink's next message if it is due; the seconds to wait before the next
        step (0: at once)."""
        row = outbox.next_row(con, sink.name)
        if row is None:
            return self.poll_s
        now = naive_utc(self.clock.now())
        delay = (row.next_attempt_at - now).total_seconds()
        if delay > 0:
            return min(delay, self.poll_s)
        if paced:
            gap = sink.min_send_interval_s - (
                time.monotonic() - self._last_send.get(sink.name, -1e9)
            )
            if gap > 0:
                return gap
        if row.sink_type != sink.type:  # the sink's type was changed under its name
            outcome = Outcome(False, error=f"made for a {row.sink_type} sink, not a {sink.type}")
            self._record(con, sink, row, outcome)
            return 0.0
        body = formats.for_sending(sink, row.payload, row.message_id, self.clock.now())
        outcome = sender.send(body, row.message_id)
        self._last_send[sink.name] = time.monotonic()
        self._record(con, sink, row, outcome)
        return 0.0

    def _record(
        self,
        con: duckdb.DuckDBPyConnection,
        sink: SinkConfig,
        row: outbox.OutboxRow,
        outcome: Outcome,
    ) -> None:
        now = naive_utc(self.clock.now())
        stats = self._stats[sink.name]
        if outcome.ok:
            self._mark(lambda: outbox.mark_sent(con, row.id, outcome.answer, now))
            with self._lock:
                stats.sent += 1
                stats.last_answer = outcome.answer
                stats.last_sent_at = rfc3339(now)
            return
        too_old = now - row.created_at >= timedelta(seconds=sink.give_up_after_s)
        if outcome.retry and not too_old:
            delay = self.backoff(row.attempts, outcome.retry_after_s)
            next_at = now + timedelta(seconds=delay)
            self._mark(
                lambda: outbox.mark_retry(con, row.id, outcome.answer, outcome.error, next_at)
            )
            with self._lock:
                stats.retries += 1
                stats.last_answer, stats.last_error = outcome.answer, outcome.error
            log.warning(
                "alerts: sink %s: %s; trying again in %.1fs", sink.name, outcome.error, delay
            )
            return
        error = (
            outcome.error
            if not (outcome.retry and too_old)
            else (f"{outcome.error}; given up after {row.attempts + 1} attempts")
        )
        self._mark(lambda: outbox.mark_failed(con, row.id, outcome.answer, error))
        with self._lock:
            stats.failed += 1
            stats.last_answer, stats.last_error = outcome.answer, error
        log.error("alerts: sink %s: message %s not delivered: %s", sink.name, row.id, error)

    @staticmethod
    def _mark(write: Callable[[], None]) -> None:
        """A mark must land: a sent message left pending would be sent again."""
        for attempt in range(_MARK_TRIES):
            try:
                write()
                return
            except duckdb.TransactionException:
                if attempt == _MARK_TRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def backoff(self, failures: int, retry_after_s: float | None = None) -> float:
        """Seconds before the next attempt after ``failures`` earlier failed attempts: full
        jitter over an exponential ceiling, never less than the sink's ``Retry-After``."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** min(failures, 30))
        delay = self.rng.uniform(0, ceiling)
        return max(delay, retry_after_s or 0.0)

    def deliver_due(self, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """In this thread, send every message that is due now, sink by sink, without pacing;
        the attempts made. For tests with a fixed clock."""
        own = con is None
        con = self.connect() if con is None else con
        attempts = 0
        try:
            for sink in self.config.sinks:
                sender = self.sender_factory(sink, self.clock)
                try:
                    while True:
                        before = outbox.next_row(con, sink.name)
                        if before is None or self._step(con, sender, sink, paced=False) > 0:
                            break
                        attempts += 1
                finally:
                    sender.close()
        finally:
            if own:
                con.close()
        return attempts

    # ------------------------------------------------------------------ numbers

    def counters(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {name: asdict(s) for name, s in self._stats.items()}
