"""The file receiver: OTLP files → the store (``audit ingest``, and ``audit scan FILE…``).

Reads, by content rather than by name:

- OTLP JSON lines, one ``ExportTraceServiceRequest`` per line (the Collector file
  exporter's ``json`` format, and what ``audit serve --record`` writes);
- one pretty-printed OTLP/JSON request (like the examples in the OTLP specification);
- protobuf: one ``ExportTraceServiceRequest`` body (``.pb``), or the Collector file
  exporter's ``proto`` format (each message behind a 4-byte big-endian length);
- any of these gzip-compressed (``.gz``), and ``-`` for standard input.

A bad line is reported with its line number and skipped; the rest of the file is stored.
A file that cannot be read at all raises ``InputError`` (exit code 3).
Spans are committed in batches of thousands, one transaction per batch.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from auditor.errors import InputError
from auditor.otlp.batch import OtlpDecodeError, SpanBatch
from auditor.otlp.otlpjson import decode_json, decode_json_object
from auditor.otlp.protobuf import decode_protobuf
from auditor.store.duck import SpanWriter

COMMIT_SPANS = 50_000
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class IngestSummary:
    files: int = 0
    requests: int = 0
    spans_received: int = 0
    spans_stored: int = 0
    spans_rejected: int = 0
    problems: list[str] = field(default_factory=list)  # "file:line: reason"
    bad_lines: int = 0

    @property
    def duplicates(self) -> int:
        return self.spans_received - self.spans_stored

    def problem(self, text: str) -> None:
        self.bad_lines += 1
        if len(self.problems) < 100:
            self.problems.append(text)


ProgressFn = Callable[[int], None]  # called with bytes consumed since the last call


class _Counting(io.RawIOBase):
    """Counts the bytes read from the underlying (possibly compressed) file."""

    def __init__(self, raw: IO[bytes], progress: ProgressFn | None) -> None:
        self.raw = raw
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self.progress is not None and n:
            self.progress(n)
        return n


def _open(path: str, progress: ProgressFn | None) -> tuple[IO[bytes], str]:
    """(binary stream of the decompressed content, display name)."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        name = "<stdin>"
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller via the wrapper
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        name = path
    counted = io.BufferedReader(_Counting(raw, progress), buffer_size=1 << 20)
    head = counted.peek(2)[:2]
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=counted, mode="rb"), name  # type: ignore[return-value]
    return counted, name


_PROTOBUF_SUFFIXES = (".pb", ".binpb", ".proto", ".protobuf")
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")


def _looks_like_protobuf(path: str, stream: IO[bytes]) -> bool | None:
    """True / False when the name or the first bytes tell; None when they cannot.

    A serialized request starts with 0x0A (field 1, length-delimited), which is also "\n";
    so JSON is recognized by its first non-blank byte being "{", and the one ambiguous
    start, "\n{" (a first ResourceSpans of 123 bytes), is settled by trying JSON first.
    """
    base = path[:-3] if path.endswith(".gz") else path
    if base.endswith(_PROTOBUF_SUFFIXES):
        return True
    if base.endswith(_JSON_SUFFIXES):
        return False
    head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
    if not head.strip():
        return False
    if head.lstrip(b" \t\r\n")[:1] != b"{":
        return True
    return None if head[:2] == b"\n{" else False


def _requests(
    stream: IO[bytes], name: str, summary: IngestSummary, path: str = ""
) -> Iterator[tuple[str, SpanBatch]]:
    """(location, decoded request) of one stream; bad lines go to ``summary``."""
    try:
        kind = _looks_like_protobuf(path, stream)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read {name}: {exc}") from None
    if kind is True:
        yield from _protobuf(stream, name)
        return
    if kind is None:  # "\n{": JSON if its first line decodes, protobuf otherwise
        data = stream.read()
        first = next((ln for ln in data.splitlines() if ln.strip()), b"")
        try:
            decode_json(first)
        except OtlpDecodeError:
            yield from _protobuf(io.BytesIO(data), name)
            return
        stream = io.BufferedReader(io.BytesIO(data))
    yield from _json_lines(stream, name, summary)


def _json_lines(
    stream: IO[bytes], name: str, summary: IngestSummary
) -> Iterator[tuple[str, SpanBatch]]:
    line_no = 0
    pending_doc: list[bytes] = []  # lines of a pretty-printed document
    doc_start = 0
    seen_content = False
    try:
        for line in stream:
            line_no += 1
            if pending_doc:
                pending_doc.append(line)
                continue
            text = line.strip()
            if not text:
                continue
            if not seen_content and not text.endswith(b"}"):
                # A JSON-lines line always ends with "}": this may be one multi-line document.
                pending_doc = [line]
                doc_start = line_no
                continue
            seen_content = True
            try:
                yield f"{name}:{line_no}", decode_json(text)
            except OtlpDecodeError as exc:
                summary.problem(f"{name}:{line_no}: {exc}")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read {name}: {exc}") from None
    if not pending_doc:
        return
    try:
        document = json.loads(b"".join(pending_doc))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # Not one document after all (e.g. a truncated first line): read the lines one by one.
        for offset, line in enumerate(pending_doc):
            text = line.strip()
            if not text:
                continue
            try:
                yield f"{name}:{doc_start + offset}", decode_json(text)
            except OtlpDecodeError as exc:
                summary.problem(f"{name}:{doc_start + offset}: {exc}")
        return
    try:
        yield f"{name}:{doc_start}", decode_json_object(document)
    except OtlpDecodeError as exc:
        summary.problem(f"{name}:{doc_start}: {exc}")


def _protobuf(stream: IO[bytes], name: str) -> Iterator[tuple[str, SpanBatch]]:
    try:
        data = stream.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read {name}: {exc}") from None
    if data[:1] == b"\x00":  # Collector file exporter "proto": 4-byte big-endian length prefixes
        offset = 0
        index = 0
        while offset < len(data):
            size = int.from_bytes(data[offset : offset + 4], "big")
            body = data[offset + 4 : offset + 4 + size]
            if len(body) != size:
                raise InputError(f"{name}: message {index + 1} is truncated")
            try:
                yield f"{name}: message {index + 1}", decode_protobuf(body)
            except OtlpDecodeError as exc:
                raise InputError(f"{name}: message {index + 1}: {exc}") from None
            offset += 4 + size
            index += 1
        return
    try:
        yield name, decode_protobuf(data)
    except OtlpDecodeError as exc:
        raise InputError(f"{name}: {exc}") from None


def ingest_files(
    store: SpanWriter, paths: list[str], progress: ProgressFn | None = None
) -> IngestSummary:
    """Load every file into ``store``; commits every ``COMMIT_SPANS`` spans and at the end."""
    summary = IngestSummary()
    pending: list[pa.Table] = []
    pending_rows = 0

    def flush() -> None:
        nonlocal pending, pending_rows
        if pending:
            result = store.insert(pa.concat_tables(pending))
            summary.spans_stored += result.stored
        pending, pending_rows = [], 0

    for path in paths:
        if path != "-" and Path(path).is_dir():
            raise InputError(f"{path} is a directory; pass the files in it")
        stream, name = _open(path, progress)
        summary.files += 1
        with stream:
            for where, batch in _requests(stream, name, summary, path):
                summary.requests += 1
                summary.spans_received += len(batch)
                summary.spans_rejected += batch.rejected
                for error in batch.errors:
                    if len(summary.problems) < 100:
                        summary.problems.append(f"{where}: {error}")
                if len(batch):
                    pending.append(batch.to_arrow())
                    pending_rows += len(batch)
                if pending_rows >= COMMIT_SPANS:
                    flush()
    flush()
    return summary
