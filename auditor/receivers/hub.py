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
``("ready", index, None)``      ``("stop", 0, None)``: drain and exit
=============================  =================================================

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
from collections.abc import Callable
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

    def __init__(self, writer: GroupCommitWriter, health: Callable[[], dict[str, Any]]) -> None:
        self.writer = writer
        self.health = health
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


def _resolve(future: asyncio.Future[Any], kind: str, payload: Any) -> None:
    if future.done():
        return
    if kind in ("ok", "health"):
        future.set_result(payload)
    elif kind == "overloaded":
        future.set_exception(Overloaded(payload))
    else:
        future.set_exception(RuntimeError(payload))
