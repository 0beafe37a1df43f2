"""Group commit: many requests, one transaction, and nobody is told "stored" before it is.

The receivers hand decoded Arrow tables to ``GroupCommitWriter.submit`` and await the future
it returns. One thread owns the store's connection: it takes everything queued, inserts it
in one transaction, commits, and only then resolves the futures of every request in that
group. While it commits, new requests queue up and form the next, larger group, so the
commit rate adapts to the load without a timer.

Backpressure: ``submit`` raises ``Overloaded`` when the spans waiting for a commit would
exceed ``max_pending_spans``; receivers answer 429 / RESOURCE_EXHAUSTED, which OTLP
exporters retry later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from auditor.store.duck import DuckStore, InsertResult

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The write queue is full; the client should retry later."""


@dataclass
class _Item:
    table: pa.Table
    future: Future[InsertResult]


_STOP = object()

# Spans waiting for a commit before submits are refused (``audit serve --max-pending-spans``).
DEFAULT_MAX_PENDING_SPANS = 250_000


class GroupCommitWriter:
    def __init__(
        self,
        store: DuckStore,
        *,
        max_pending_spans: int = DEFAULT_MAX_PENDING_SPANS,
        max_group_spans: int = 100_000,
        min_group_spans: int = 20_000,
        linger_s: float = 0.002,
        on_commit: Callable[[InsertResult], None] | None = None,
    ) -> None:
        self.store = store
        self.max_pending_spans = max_pending_spans
        self.max_group_spans = max_group_spans
        self.min_group_spans = min_group_spans
        self.linger_s = linger_s
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Item | object] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="auditor-writer", daemon=True)
        self.commits = 0
        self.stored = 0
        self.received = 0

    def start(self) -> None:
        self._thread.start()

    @property
    def pending_spans(self) -> int:
        return self._pending

    def submit(self, table: pa.Table) -> Future[InsertResult]:
        rows = table.num_rows
        with self._lock:
            if self._pending and self._pending + rows > self.max_pending_spans:
                raise Overloaded(f"{self._pending} spans are waiting to be committed")
            self._pending += rows
        future: Future[InsertResult] = Future()
        self._queue.put(_Item(table, future))
        return future

    def stop(self) -> None:
        """Commit everything already submitted, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            group: list[_Item] = [first]  # type: ignore[list-item]
            rows = group[0].table.num_rows
            # A commit costs per call as well as per span: below min_group_spans, wait up to
            # linger_s for more requests to share it (a few ms of latency, 2-3x the rate).
            deadline = time.monotonic() + self.linger_s
            while rows < self.max_group_spans:
                try:
                    if rows < self.min_group_spans:
                        nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    else:
                        nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                group.append(nxt)  # type: ignore[arg-type]
                rows += nxt.table.num_rows  # type: ignore[attr-defined]
            self._commit(group, rows)

    def _commit(self, group: list[_Item], rows: int) -> None:
        try:
            tables = [item.table for item in group]
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            result = self.store.insert(table)
        except Exception as exc:  # the store failed: nobody in this group is acknowledged
            if isinstance(exc, duckdb.Error):  # the disk full, a file error: one line says it
                log.error("commit of %d spans failed: %s", rows, str(exc).strip())
            else:
                log.exception("commit of %d spans failed", rows)
            for item in group:
                item.future.set_exception(exc)
        else:
            self.commits += 1
            self.stored += result.stored
            self.received += result.received
            for item in group:
                item.future.set_result(result)
            if self.on_commit is not None:
                try:
                    self.on_commit(result)
                except Exception:
                    log.exception("on_commit callback failed")
        finally:
            with self._lock:
                self._pending -= rows
