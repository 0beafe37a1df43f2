"""Request body → Arrow table: the CPU-heavy half of a receiver, run in worker processes.

``decode_body`` is what the receivers' process pool executes: it undoes ``Content-Encoding``
(gzip, with the size limit enforced *while* inflating, so a gzip bomb costs at most the limit),
picks the decoder from the content type and returns the Arrow table the store inserts.
It takes and returns only picklable values, and raises only the exceptions below.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

import pyarrow as pa

from auditor.otlp.batch import OtlpDecodeError
from auditor.otlp.otlpjson import decode_json
from auditor.otlp.protobuf import decode_protobuf

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = (PROTOBUF, JSON)


class PayloadTooLarge(Exception):
    """Body (or its decompressed form) is over the limit: 413 / RESOURCE_EXHAUSTED."""


class UnsupportedMedia(Exception):
    """Content type or content encoding we do not speak: 415."""


@dataclass(frozen=True)
class Decoded:
    table: pa.Table
    rejected: int
    error_message: str
    record: str | None  # the request as one OTLP/JSON line, when recording


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` → ``application/json``; raises if unsupported."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base not in CONTENT_TYPES:
        shown = base or "none"
        raise UnsupportedMedia(f"unsupported content type {shown!r}; send {PROTOBUF} or {JSON}")
    return base


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (identity or gzip), never producing more than ``limit`` bytes."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        if len(body) > limit:
            raise PayloadTooLarge(f"body of {len(body)} bytes is over the {limit} byte limit")
        return body
    if coding not in ("gzip", "x-gzip"):
        raise UnsupportedMedia(f"unsupported content encoding {coding!r}; use gzip or none")
    out = bytearray()
    data = body
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while data:
                # At most 1 MiB per step: a bomb never holds much more than the limit.
                out += inflater.decompress(data, min(1 << 20, limit + 1 - len(out)))
                if len(out) > limit:
                    raise PayloadTooLarge(f"body inflates past the {limit} byte limit")
                data = inflater.unconsumed_tail
            if not inflater.eof:
                raise OtlpDecodeError("gzip body is truncated")
        except zlib.error as exc:
            raise OtlpDecodeError(f"body is not valid gzip: {exc}") from None
        data = inflater.unused_data  # a further gzip member (concatenated streams)
    return bytes(out)


def decode_body(
    body: bytes, content_type: str, encoding: str | None, limit: int, record: bool = False
) -> Decoded:
    raw = inflate(body, encoding, limit)
    if content_type == PROTOBUF:
        batch = decode_protobuf(raw)
        line = None
        if record:
            from auditor.otlp.encode import request_to_json

            line = request_to_json(raw)
    else:
        batch = decode_json(raw)
        line = json.dumps(json.loads(raw), separators=(",", ":")) if record else None
    return Decoded(batch.to_arrow(), batch.rejected, batch.error_message(), line)
