"""``Alerting``: the sidecar's one entry point to alerting (see the package docstring)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import duckdb

from auditor.alerts import outbox
from auditor.alerts.config import AlertsConfig, parse_alerts
from auditor.alerts.dispatcher import Dispatcher
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.findings.model import RuleInfo
from auditor.store.duck import DuckStore

__all__ = ["Alerting", "AlertsConfig", "parse_alerts"]

log = logging.getLogger(__name__)

TICK_S = 10.0  # repeats are due to the tick; Alertmanager's (1m) keep well inside endsAt
StoreLike = str | os.PathLike[str] | Callable[[], duckdb.DuckDBPyConnection]


class Alerting:
    def __init__(
        self,
        store: StoreLike,
        alerts: AlertsConfig | Sequence[Mapping[str, Any]],
        clock: Clock = SYSTEM_CLOCK,
        *,
        rules: Mapping[str, RuleInfo] | None = None,
        tick_s: float = TICK_S,
        **dispatcher_options: Any,
    ) -> None:
        """``rules`` (rule id → ``RuleInfo``, e.g. ``engine.scan.rule_infos(catalog)``) gives
        alerts their rule's title and runbook; without it they have neither. ``tick_s``: how
        often ``start()``'s ticker runs ``tick`` (0: never; the caller ticks).
        ``dispatcher_options`` go to ``Dispatcher`` (backoff, poll interval; tests)."""
        self.config = parse_alerts(alerts)
        self.clock = clock
        self.rules = rules
        self.tick_s = tick_s
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._store: DuckStore | None = None
        if callable(store):
            self._connect: Callable[[], duckdb.DuckDBPyConnection] = store
        else:
            self._store = DuckStore(store, clock=clock) if self.config else None
            self._connect = self._store.cursor if self._store else _no_store
        self.dispatcher = Dispatcher(self._connect, self.config, clock, **dispatcher_options)

    @property
    def enabled(self) -> bool:
        return bool(self.config)

    def enqueue(
        self, con: duckdb.DuckDBPyConnection, opened: Iterable[str], resolved: Iterable[str]
    ) -> int:
        """Queue the messages for findings that opened or resolved (in one transaction on
        ``con``); the outbox rows added."""
        if not self.config:
            return 0
        added = outbox.enqueue(con, opened, resolved, self.config, self._now(), self.rules)
        if added:
            self.dispatcher.wake()
        return added

    def on_change(
        self, con: duckdb.DuckDBPyConnection, opened: Sequence[str], resolved: Sequence[str]
    ) -> None:
        """The evaluation loop's hook (``EvaluationLoop(on_change=alerting.on_change)``):
        ``enqueue`` without a result."""
        self.enqueue(con, opened, resolved)

    def tick(self, con: duckdb.DuckDBPyConnection) -> int:
        """Queue what no transition reported (``outbox.reconcile``) and the repeats that are
        due, and forget old messages; the outbox rows added."""
        if not self.config:
            return 0
        now = self._now()
        added = outbox.reconcile(con, self.config, now, self.rules)
        added += outbox.repeat_due(con, self.config, now, self.rules)
        outbox.prune(con, now)
        if added:
            self.dispatcher.wake()
        return added

    def start(self) -> None:
        """The dispatcher's threads, and a ticker that runs ``tick`` every ``tick_s`` on a
        connection of its own (repeats are due whether or not spans arrive)."""
        if not self.config or self._ticker is not None:
            return
        self.dispatcher.start()
        self._stopping.clear()
        if self.tick_s > 0:
            self._ticker = threading.Thread(target=self._tick_loop, name="auditor-alerts-tick",
                                            daemon=True)  # fmt: skip
            self._ticker.start()

    def _tick_loop(self) -> None:
        try:
            con = self._connect()
        except Exception:
            log.exception("alerts: cannot open the store; no repeats")
            return
        try:
            while not self._stopping.wait(self.tick_s):
                try:
                    self.tick(con)
                except duckdb.Error as exc:  # keep ticking; say what failed
                    log.warning("alerts: tick failed: %s", exc)
        finally:
            con.close()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout)
            self._ticker = None
        self.dispatcher.stop(timeout)
        if self._store is not None:
            self._store.close()
            self._store = None

    def depth(self) -> dict[str, int]:
        """Pending messages per configured sink."""
        if not self.config:
            return {}
        con = self._connect()
        try:
            pending = outbox.depth(con)
        finally:
            con.close()
        return {s.name: pending.get(s.name, 0) for s in self.config.sinks}

    def stats(self) -> dict[str, Any]:
        """``{"sinks": {name: {type, pending, sent, failed, retries, last_answer,
        last_error, last_sent_at}}, "pending": n, "running": bool}``; counters count since
        start, ``pending`` is read from the outbox."""
        if not self.config:
            return {"sinks": {}, "pending": 0, "running": False}
        pending = self.depth()
        counters = self.dispatcher.counters()
        sinks = {
            s.name: {"type": s.type, "pending": pending[s.name], **counters[s.name]}
            for s in self.config.sinks
        }
        return {
            "sinks": sinks,
            "pending": sum(pending.values()),
            "running": self.dispatcher.running,
        }

    def _now(self) -> Any:
        return naive_utc(self.clock.now())


def _no_store() -> duckdb.DuckDBPyConnection:
    raise RuntimeError("alerting has no sinks and no store")
