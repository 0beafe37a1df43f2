"""The path every received request takes: decode (worker process) → commit (writer) → answer.

Both receivers (OTLP/HTTP and OTLP/gRPC) call ``Pipeline.export`` and translate its result or
exception into their protocol's answer. ``export`` returns only after the request's spans
are committed: acknowledge after commit (DESIGN.md, "The data path").

Decoding runs in a pool of worker processes, because decoding is pure-Python CPU work and
the event loop, the HTTP parser and the DuckDB writer need the other core's time too.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from auditor.receivers.decoding import Decoded, decode_body, warm_up
from auditor.store.writer import GroupCommitWriter, Overloaded

log = logging.getLogger(__name__)

DEFAULT_BODY_LIMIT = 64 * 1024 * 1024


class ShuttingDown(Exception):
    """The server is draining; the client should retry elsewhere or later."""


@dataclass(frozen=True)
class ExportResult:
    accepted: int
    rejected: int
    error_message: str


class Pipeline:
    def __init__(
        self,
        writer: GroupCommitWriter,
        *,
        body_limit: int = DEFAULT_BODY_LIMIT,
        decode_workers: int | None = None,
        max_inflight: int = 64,
        record_path: Path | None = None,
    ) -> None:
        self.writer = writer
        self.body_limit = body_limit
        workers = decode_workers if decode_workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 0
            else None
        )
        self._inflight = 0
        self.max_inflight = max_inflight
        self._record: IO[str] | None = (
            open(record_path, "a", encoding="utf-8") if record_path else None  # noqa: SIM115
        )
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.requests = 0
        self.spans_accepted = 0
        self.spans_rejected = 0

    async def start(self) -> None:
        if self._pool is not None:
            loop = asyncio.get_running_loop()
            workers = self._pool._max_workers  # type: ignore[attr-defined]
            await asyncio.gather(
                *(loop.run_in_executor(self._pool, warm_up) for _ in range(workers))
            )

    async def export(self, body: bytes, content_type: str, encoding: str | None) -> ExportResult:
        """Decode and commit one request. Raises ``Overloaded``, ``ShuttingDown``,
        ``OtlpDecodeError``, ``PayloadTooLarge`` or ``UnsupportedMedia``."""
        if self._closing:
            raise ShuttingDown("the server is shutting down")
        if self._inflight >= self.max_inflight:
            raise Overloaded(f"{self._inflight} requests are already being processed")
        self._inflight += 1
        self._idle.clear()
        try:
            decoded = await self._decode(body, content_type, encoding)
            if decoded.table.num_rows:
                await asyncio.wrap_future(self.writer.submit(decoded.table))
            if self._record is not None and decoded.record is not None:
                self._record.write(decoded.record + "\n")
                self._record.flush()
            self.requests += 1
            self.spans_accepted += decoded.table.num_rows
            self.spans_rejected += decoded.rejected
            return ExportResult(decoded.table.num_rows, decoded.rejected, decoded.error_message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def _decode(self, body: bytes, content_type: str, encoding: str | None) -> Decoded:
        record = self._record is not None
        if self._pool is None:
            return decode_body(body, content_type, encoding, self.body_limit, record)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, decode_body, body, content_type, encoding, self.body_limit, record
        )

    async def drain(self) -> None:
        """Refuse new requests and wait for the ones in flight to be committed."""
        self._closing = True
        await self._idle.wait()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._record is not None:
            self._record.close()
