"""The path every received request takes: decode → commit → answer.

Both receivers (OTLP/HTTP and OTLP/gRPC) call ``Pipeline.export`` and translate its result or
exception into their protocol's answer. ``export`` returns only after the request's spans
are committed: acknowledge after commit (docs/design.md, "The data path").

Decoding happens in the process that received the request. Where the committed spans go
is the ``Committer``'s business:

- ``LocalCommitter``: this process owns the store's writer (``audit serve --decode-workers 0``,
  and tests);
- ``hub.RemoteCommitter``: this process is one of ``audit serve``'s front-end workers, and
  sends the decoded Arrow table to the store-owning process, which answers once committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from auditor.receivers.decoding import decode_body
from auditor.store.writer import GroupCommitWriter, Overloaded

log = logging.getLogger(__name__)

DEFAULT_BODY_LIMIT = 64 * 1024 * 1024
# A client that takes longer to send its body is answered 408 (`audit serve --body-timeout`).
DEFAULT_BODY_TIMEOUT_S = 30.0

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_BODY_TIMEOUT_S",
    "Committer",
    "ExportResult",
    "LocalCommitter",
    "Overloaded",
    "Pipeline",
    "ShuttingDown",
]


class ShuttingDown(Exception):
    """The server is draining; the client should retry elsewhere or later."""


class Committer(Protocol):
    async def commit(self, table: pa.Table, rejected: int) -> None:
        """Return once ``table`` is committed; raise ``Overloaded`` / ``ShuttingDown`` / any
        error of the store (then nothing may be acknowledged)."""


class LocalCommitter:
    """Commits through this process's own group-commit writer."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self.writer = writer
        self.spans_rejected = 0

    async def commit(self, table: pa.Table, rejected: int) -> None:
        self.spans_rejected += rejected
        if table.num_rows:
            await asyncio.wrap_future(self.writer.submit(table))


@dataclass(frozen=True)
class ExportResult:
    accepted: int
    rejected: int
    error_message: str


class Pipeline:
    def __init__(
        self,
        committer: Committer,
        *,
        body_limit: int = DEFAULT_BODY_LIMIT,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
        max_inflight: int = 64,
        record_path: Path | None = None,
    ) -> None:
        self.committer = committer
        self.body_limit = body_limit
        self.body_timeout_s = body_timeout_s
        self.max_inflight = max_inflight
        self._inflight = 0
        # O_APPEND: every front-end worker appends whole lines to the same file.
        self._record_fd = (
            os.open(record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if record_path
            else None
        )
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.requests = 0
        self.spans_accepted = 0
        self.spans_rejected = 0

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
            decoded = decode_body(
                body, content_type, encoding, self.body_limit, self._record_fd is not None
            )
            await self.committer.commit(decoded.table, decoded.rejected)
            if self._record_fd is not None and decoded.record is not None:
                os.write(self._record_fd, (decoded.record + "\n").encode())
            self.requests += 1
            self.spans_accepted += decoded.table.num_rows
            self.spans_rejected += decoded.rejected
            return ExportResult(decoded.table.num_rows, decoded.rejected, decoded.error_message)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()

    async def drain(self) -> None:
        """Refuse new requests and wait for the ones in flight to be committed."""
        self._closing = True
        await self._idle.wait()

    def close(self) -> None:
        if self._record_fd is not None:
            os.close(self._record_fd)
            self._record_fd = None
