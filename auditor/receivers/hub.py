"""Front-end workers ↔ the store-owning process: tables in, "committed" out.

``audit serve`` runs its receivers in worker processes (so that decoding uses every core
and never competes for one interpreter lock with the DuckDB writer), and one process owns
the store. Each worker holds one duplex pipe to that process:

=============================  =================================================
worker → store process         store process → worker
=============================  =================================================
``("export", id, ipc, n_bad)``  ``("ok", id, None)`` after the commit, or
                                ``("overloaded", id, why)`` / ``("error", id, why)``
``("health", id, None)``        ``("health", id, {...})``
``("call", id, (name, arg))``   ``("result", id, value)`` or ``("failed", id, why)``
``("observe", 0, deltas)``      nothing (request latencies to add up)
``("ready", index, None)``      ``("stop", 0, None)``: drain and exit
=============================  =================================================

A ``call`` runs ``calls[name](arg)`` on the store process's thread pool (``executor``), so a
slow one (an API request reading the store) never holds up the exports behind it on the
pipe; ``observe`` hands what a worker measured to ``on_observe``.

``ipc`` is the decoded batch as an Arrow IPC stream (zero-copy to read back). A worker whose
pipe closes (the store process died) exits at once: nothing it had in flight was
acknowledged, so clients retry, and nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from multiprocessing.connection import Connection
from typing import Any

import pyarrow as pa

from auditor.store.writer import GroupCommitWriter, Overloaded

log = logging.getLogger(__name__)


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def ipc_to_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


class Hub:
    """The store process's side: one reader thread per worker pipe."""

    def __init__(
        self,
        writer: GroupCommitWriter,
        health: Callable[[], dict[str, Any]],
        calls: Mapping[str, Callable[[Any], Any]] | None = None,
        executor: Executor | None = None,
        on_observe: Callable[[Any], None] | None = None,
    ) -> None:
        self.writer = writer
        self.health = health
        self.calls = dict(calls or {})
        self.executor = executor
        self.on_observe = on_observe
        self.requests = 0
        self.spans_accepted = 0
        self.spans_rejected = 0
        self.ready: dict[int, threading.Event] = {}
        self._conns: list[tuple[Connection, threading.Lock]] = []
        self._stats_lock = threading.Lock()

    def attach(self, index: int, conn: Connection) -> None:
        lock = threading.Lock()
        self.ready[index] = threading.Event()
        self._conns.append((conn, lock))
        thread = threading.Thread(
            target=self._read, args=(index, conn, lock), name=f"auditor-hub-{index}", daemon=True
        )
        thread.start()

    def stop_workers(self) -> None:
        for conn, lock in self._conns:
            self._send(conn, lock, ("stop", 0, None))

    @staticmethod
    def _send(conn: Connection, lock: threading.Lock, message: tuple[str, int, Any]) -> None:
        try:
            with lock:
                conn.send(message)
        except (OSError, ValueError):  # the worker is gone; its clients were not acknowledged
            pass

    def _read(self, index: int, conn: Connection, lock: threading.Lock) -> None:
        while True:
            try:
                kind, ident, payload = conn.recv()
            except (EOFError, OSError):
                return
            if kind == "ready":
                self.ready[index].set()
            elif kind == "health":
                self._send(conn, lock, ("health", ident, self.health()))
            elif kind == "export":
                self._export(conn, lock, ident, payload)
            elif kind == "call":
                self._call(conn, lock, ident, payload)
            elif kind == "observe" and self.on_observe is not None:
                try:
                    self.on_observe(payload)
                except Exception:
                    log.exception("a worker's observations could not be merged")

    def _call(
        self, conn: Connection, lock: threading.Lock, ident: int, payload: tuple[str, Any]
    ) -> None:
        name, argument = payload
        function = self.calls.get(name)
        if function is None or self.executor is None:
            self._send(conn, lock, ("failed", ident, f"no call named {name!r}"))
            return

        def done(f: Any) -> None:
            error = f.exception()
            if error is None:
                self._send(conn, lock, ("result", ident, f.result()))
            else:
                self._send(conn, lock, ("failed", ident, f"{type(error).__name__}: {error}"))

        try:
            self.executor.submit(function, argument).add_done_callback(done)
        except RuntimeError as exc:  # the pool is shut down: the server is stopping
            self._send(conn, lock, ("failed", ident, str(exc)))

    def _export(
        self, conn: Connection, lock: threading.Lock, ident: int, payload: tuple[bytes, int]
    ) -> None:
        data, rejected = payload
        table = ipc_to_table(data)
        with self._stats_lock:
            self.requests += 1
            self.spans_accepted += table.num_rows
            self.spans_rejected += rejected
        if table.num_rows == 0:
            self._send(conn, lock, ("ok", ident, None))
            return
        try:
            future = self.writer.submit(table)
        except Overloaded as exc:
            self._send(conn, lock, ("overloaded", ident, str(exc)))
            return

        def done(f: Any) -> None:
            error = f.exception()
            if error is None:
                self._send(conn, lock, ("ok", ident, None))
            else:
                self._send(conn, lock, ("error", ident, f"{type(error).__name__}: {error}"))

        future.add_done_callback(done)


class RemoteCommitter:
    """A front-end worker's side: commit through the store process and wait for its answer."""

    def __init__(
        self, conn: Connection, loop: asyncio.AbstractEventLoop, on_stop: Callable[[], None]
    ) -> None:
        self.conn = conn
        self.loop = loop
        self.on_stop = on_stop
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="auditor-hub-client", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                kind, ident, payload = self.conn.recv()
            except (EOFError, OSError):
                # The store process is gone: nothing in flight was acknowledged. Leave now
                # rather than accept spans nobody can commit.
                log.error("the store process is gone; this front-end worker exits")
                os._exit(3)
            if kind == "stop":
                self.loop.call_soon_threadsafe(self.on_stop)
                continue
            future = self._waiting.pop(ident, None)
            if future is not None:
                self.loop.call_soon_threadsafe(_resolve, future, kind, payload)

    def _send(self, message: tuple[str, int, Any]) -> None:
        with self._send_lock:
            self.conn.send(message)

    async def _call(self, kind: str, payload: Any) -> Any:
        ident = next(self._ids)
        future: asyncio.Future[Any] = self.loop.create_future()
        self._waiting[ident] = future
        await self.loop.run_in_executor(None, self._send, (kind, ident, payload))
        return await future

    def ready(self, index: int) -> None:
        self._send(("ready", index, None))

    async def commit(self, table: pa.Table, rejected: int) -> None:
        await self._call("export", (table_to_ipc(table), rejected))

    async def health(self) -> dict[str, Any]:
        return await self._call("health", None)

    async def call(self, name: str, argument: Any) -> Any:
        """``calls[name](argument)`` run in the store process (see ``Hub``)."""
        return await self._call("call", (name, argument))

    def observe(self, deltas: Any) -> None:
        """Send what this worker measured to the store process (no answer)."""
        self._send(("observe", 0, deltas))


def _resolve(future: asyncio.Future[Any], kind: str, payload: Any) -> None:
    if future.done():
        return
    if kind in ("ok", "health", "result"):
        future.set_result(payload)
    elif kind == "overloaded":
        future.set_exception(Overloaded(payload))
    else:
        future.set_exception(RuntimeError(payload))
