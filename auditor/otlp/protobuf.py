"""OTLP protobuf (``ExportTraceServiceRequest``) → ``SpanBatch``.

Pure: bytes in, columns out. Called by the HTTP and gRPC receivers (in decode worker
processes) and by ``audit ingest`` for ``.pb`` files.

Why it looks the way it does: upb parses about a million spans a second, but reading every
attribute through Python message objects caps a decoder at ~60k spans/s, and attributes are
most of a span. So we parse with a *shadow* of the official descriptors (taken from
``opentelemetry-proto`` at import, so field numbers can never drift) in which the
``attributes`` fields of Span, Span.Event and Span.Link are declared ``repeated bytes``
instead of ``repeated KeyValue``. Bytes and message fields share a wire type, so the shadow
parses the same bytes; each attribute then arrives as its raw encoded ``KeyValue``, which is
turned into a JSON fragment once and cached (job traffic repeats most attribute pairs:
queue names, task names, states). Uncached short string pairs are read straight off the wire;
anything else goes through the official ``KeyValue`` class.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from auditor.otlp.batch import (
    KIND_NAMES,
    MAX_TIMESTAMP_NS,
    STATUS_NAMES,
    OtlpDecodeError,
    SpanBatch,
    span_problem,
)
from auditor.otlp.values import json_member_value, native_pb

_ZERO_SPAN = bytes(8)
_ZERO_TRACE = bytes(16)


def _shadow_request_class() -> Any:
    """ExportTraceServiceRequest whose span/event/link attributes are raw bytes."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb))
    trace = descriptor_pb2.FileDescriptorProto.FromString(trace_pb2.DESCRIPTOR.serialized_pb)
    for message in trace.message_type:
        if message.name != "Span":
            continue
        for m in [message, *message.nested_type]:  # Span, Span.Event, Span.Link
            for f in m.field:
                if f.name == "attributes":
                    f.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
                    f.ClearField("type_name")
    pool.Add(trace)
    pool.Add(
        descriptor_pb2.FileDescriptorProto.FromString(trace_service_pb2.DESCRIPTOR.serialized_pb)
    )
    full_name = trace_service_pb2.ExportTraceServiceRequest.DESCRIPTOR.full_name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


_Request = _shadow_request_class()
_KeyValue = common_pb2.KeyValue
_dumps = json.dumps
_quote = encode_basestring_ascii  # the C string encoder behind json.dumps, minus its overhead

# raw KeyValue bytes -> JSON member text ('"key":"value"', '"port":8025')
_FRAGMENTS: dict[bytes, str] = {}
_FRAGMENT_CACHE_LIMIT = 200_000


def _fragment(raw: bytes) -> str:
    # Fast path: field 1 (key) and field 2 (AnyValue{string_value}) both shorter than 128
    # bytes, so every length is a one-byte varint: 0A kl key 12 al 0A sl value.
    n = len(raw)
    if n > 5 and raw[0] == 0x0A:
        kl = raw[1]
        if kl < 128 and n > kl + 5 and raw[2 + kl] == 0x12 and raw[4 + kl] == 0x0A:
            sl = raw[5 + kl]
            if sl < 128 and raw[3 + kl] == sl + 2 and n == 6 + kl + sl:
                try:
                    text = _quote(raw[2 : 2 + kl].decode()) + ":" + _quote(raw[6 + kl :].decode())
                except UnicodeDecodeError:
                    raise OtlpDecodeError("attribute is not valid UTF-8") from None
                _remember(raw, text)
                return text
    try:
        kv = _KeyValue.FromString(raw)
    except DecodeError as exc:
        raise OtlpDecodeError(f"invalid attribute: {exc}") from None
    text = _quote(kv.key) + ":" + json_member_value(*native_pb(kv.value))
    _remember(raw, text)
    return text


def _remember(raw: bytes, text: str) -> None:
    if len(_FRAGMENTS) >= _FRAGMENT_CACHE_LIMIT:
        _FRAGMENTS.clear()
    _FRAGMENTS[raw] = text


def _attributes(raws: Any) -> str:
    """The JSON object text of a span's, event's or link's raw attributes."""
    if not raws:
        return "{}"
    get = _FRAGMENTS.get
    return "{" + ",".join([get(r) or _fragment(r) for r in raws]) + "}"


def _message_attributes(kvs: Any) -> tuple[str, dict[str, str]]:
    """Resource attributes (real KeyValue messages): JSON text, and the values as strings."""
    members = []
    strings: dict[str, str] = {}
    for kv in kvs:
        kind, value = native_pb(kv.value)
        members.append(_quote(kv.key) + ":" + json_member_value(kind, value))
        strings.setdefault(kv.key, value if kind == "string" else "")
    return "{" + ",".join(members) + "}", strings


_KINDS = dict(enumerate(KIND_NAMES))
_STATUSES = dict(enumerate(STATUS_NAMES))
_NO_ITEMS: list = []  # shared by every span without events / links (never mutated)


def _valid(
    tids: list[bytes], sids: list[bytes], pids: list[bytes], starts: list[int], ends: list[int]
) -> bool:
    """True when every span of a group can be stored (the common case, checked column-wise)."""
    return (
        all(len(t) == 16 for t in tids)
        and all(len(x) == 8 for x in sids)
        and all(len(p) in (0, 8) for p in pids)
        and _ZERO_TRACE not in tids
        and _ZERO_SPAN not in sids
        and max(starts) <= MAX_TIMESTAMP_NS
        and max(ends) <= MAX_TIMESTAMP_NS
    )


def _identity(
    spans: list[Any],
) -> tuple[list[bytes], list[bytes], list[bytes], list[int], list[int]]:
    """The columns that decide whether a span can be stored: ids and times."""
    return (
        [x.trace_id for x in spans],
        [x.span_id for x in spans],
        [x.parent_span_id for x in spans],
        [x.start_time_unix_nano for x in spans],
        [x.end_time_unix_nano for x in spans],
    )


def _event_times_ok(events: Any) -> bool:
    return all(e.time_unix_nano <= MAX_TIMESTAMP_NS for e in events)


def decode_protobuf(body: bytes) -> SpanBatch:
    """Decode one ``ExportTraceServiceRequest``; invalid spans are counted as rejected.

    Works column by column over each scope's spans (list comprehensions instead of one
    append per field per span): the hot loop of ingestion.
    """
    try:
        request = _Request.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"body is not a valid ExportTraceServiceRequest: {exc}") from None
    batch = SpanBatch()
    c = batch.columns
    for rs in request.resource_spans:
        res_json, res_values = _message_attributes(rs.resource.attributes)
        service = res_values.get("service.name", "")
        for ss in rs.scope_spans:
            spans = list(ss.spans)
            if not spans:
                continue
            tids, sids, pids, starts, ends = _identity(spans)
            if not _valid(tids, sids, pids, starts, ends) or not all(
                _event_times_ok(x.events) for x in spans if x.events
            ):
                spans = _keep_valid(spans, batch)
                if not spans:
                    continue
                tids, sids, pids, starts, ends = _identity(spans)
            n = len(spans)
            c["Timestamp"] += starts
            c["TraceId"] += [t.hex() for t in tids]
            c["SpanId"] += [x.hex() for x in sids]
            c["ParentSpanId"] += [p.hex() if p != _ZERO_SPAN else "" for p in pids]
            c["TraceState"] += [x.trace_state for x in spans]
            c["SpanName"] += [x.name for x in spans]
            c["SpanKind"] += [_KINDS.get(x.kind, "Unspecified") for x in spans]
            c["ServiceName"] += [service] * n
            c["ResourceAttributes"] += [res_json] * n
            c["ScopeName"] += [ss.scope.name] * n
            c["ScopeVersion"] += [ss.scope.version] * n
            c["SpanAttributes"] += [_attributes(x.attributes) for x in spans]
            c["Duration"] += [e - s for s, e in zip(starts, ends, strict=True)]
            statuses = [x.status for x in spans]
            c["StatusCode"] += [_STATUSES.get(st.code, "Unset") for st in statuses]
            c["StatusMessage"] += [st.message for st in statuses]
            c["Flags"] += [x.flags for x in spans]
            events = [x.events for x in spans]
            if any(events):
                c["Events.Timestamp"] += [
                    [e.time_unix_nano for e in ev] if ev else _NO_ITEMS for ev in events
                ]
                c["Events.Name"] += [[e.name for e in ev] if ev else _NO_ITEMS for ev in events]
                c["Events.Attributes"] += [
                    [_attributes(e.attributes) for e in ev] if ev else _NO_ITEMS for ev in events
                ]
            else:
                none = [_NO_ITEMS] * n
                c["Events.Timestamp"] += none
                c["Events.Name"] += none
                c["Events.Attributes"] += none
            links = [x.links for x in spans]
            if any(links):
                c["Links.TraceId"] += [
                    [lk.trace_id.hex() for lk in ls] if ls else _NO_ITEMS for ls in links
                ]
                c["Links.SpanId"] += [
                    [lk.span_id.hex() for lk in ls] if ls else _NO_ITEMS for ls in links
                ]
                c["Links.TraceState"] += [
                    [lk.trace_state for lk in ls] if ls else _NO_ITEMS for ls in links
                ]
                c["Links.Attributes"] += [
                    [_attributes(lk.attributes) for lk in ls] if ls else _NO_ITEMS for ls in links
                ]
            else:
                none = [_NO_ITEMS] * n
                c["Links.TraceId"] += none
                c["Links.SpanId"] += none
                c["Links.TraceState"] += none
                c["Links.Attributes"] += none
    return batch


def _keep_valid(spans: list[Any], batch: SpanBatch) -> list[Any]:
    """The spans of a group that can be stored; the others are rejected with a reason."""
    kept = []
    for x in spans:
        problem = span_problem(
            x.trace_id, x.span_id, x.parent_span_id, x.start_time_unix_nano, x.end_time_unix_nano
        )
        if not problem and x.events and not _event_times_ok(x.events):
            problem = "event timestamp out of range"
        if problem:
            batch.reject(f"span {x.name!r}: {problem}")
        else:
            kept.append(x)
    return kept
