"""The columnar span batch: what decoding produces and the store consumes.

A ``SpanBatch`` is one list per column of ``otel_traces`` (docs/design.md, "The store"), in the
OpenTelemetry Collector ClickHouse exporter's names and meanings, plus the span's W3C
``Flags``. No per-span Python object survives decoding; ``to_arrow`` turns the lists into one
Arrow table for a batched insert. Attribute maps are JSON object text (see ``values``).

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


class OtlpDecodeError(ValueError):
    """The body is not a decodable OTLP request; the message says why (sent back as 400)."""


MAX_TIMESTAMP_NS = 2**63 - 1  # the range of TIMESTAMP_NS / DateTime64(9)
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)

KIND_NAMES = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_NAMES = ("Unset", "Ok", "Error")

# Column name -> Arrow type, in table order. Names with dots are ClickHouse Nested columns;
# DuckDB keeps them as parallel lists under the same (quoted) names.
ARROW_SCHEMA = pa.schema(
    [
        ("Timestamp", pa.timestamp("ns")),
        ("TraceId", pa.string()),
        ("SpanId", pa.string()),
        ("ParentSpanId", pa.string()),
        ("TraceState", pa.string()),
        ("SpanName", pa.string()),
        ("SpanKind", pa.string()),
        ("ServiceName", pa.string()),
        ("ResourceAttributes", pa.string()),
        ("ScopeName", pa.string()),
        ("ScopeVersion", pa.string()),
        ("SpanAttributes", pa.string()),
        ("Duration", pa.int64()),
        ("StatusCode", pa.string()),
        ("StatusMessage", pa.string()),
        ("Events.Timestamp", pa.list_(pa.timestamp("ns"))),
        ("Events.Name", pa.list_(pa.string())),
        ("Events.Attributes", pa.list_(pa.string())),
        ("Links.TraceId", pa.list_(pa.string())),
        ("Links.SpanId", pa.list_(pa.string())),
        ("Links.TraceState", pa.list_(pa.string())),
        ("Links.Attributes", pa.list_(pa.string())),
        ("Flags", pa.uint32()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(ARROW_SCHEMA.names)


@dataclass
class SpanBatch:
    """Decoded spans, one list per column (see ``COLUMNS``), plus what was rejected."""

    columns: dict[str, list] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns["SpanId"])

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < 10:  # enough to explain, bounded for hostile input
            self.errors.append(reason)

    def error_message(self) -> str:
        if not self.rejected:
            return ""
        more = self.rejected - len(self.errors)
        suffix = f" (and {more} more)" if more > 0 else ""
        return "; ".join(self.errors) + suffix

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=ARROW_SCHEMA)


def span_problem(trace_id: bytes, span_id: bytes, parent: bytes, start: int, end: int) -> str:
    """Why a span cannot be stored ("" when it can). Such spans are rejected one by one
    (OTLP ``partial_success``); the rest of the request is kept."""
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        return "trace id must be 16 bytes and not all zero"
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        return "span id must be 8 bytes and not all zero"
    if parent and len(parent) != 8:
        return "parent span id must be empty or 8 bytes"
    if not (0 <= start <= MAX_TIMESTAMP_NS and 0 <= end <= MAX_TIMESTAMP_NS):
        return "timestamp out of range"
    return ""
