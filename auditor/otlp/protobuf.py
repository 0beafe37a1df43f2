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
        strings[kv.key] = value if kind == "string" else ""
    return "{" + ",".join(members) + "}", strings


def decode_protobuf(body: bytes) -> SpanBatch:
    """Decode one ``ExportTraceServiceRequest``; invalid spans are counted as rejected."""
    try:
        request = _Request.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"body is not a valid ExportTraceServiceRequest: {exc}") from None
    batch = SpanBatch()
    c = batch.columns
    ts, tid, sid, pid, tstate = (
        c["Timestamp"], c["TraceId"], c["SpanId"], c["ParentSpanId"], c["TraceState"],
    )  # fmt: skip
    names, kinds, services, rattrs, scopes, versions = (
        c["SpanName"], c["SpanKind"], c["ServiceName"], c["ResourceAttributes"],
        c["ScopeName"], c["ScopeVersion"],
    )  # fmt: skip
    sattrs, durations, codes, messages, flags = (
        c["SpanAttributes"], c["Duration"], c["StatusCode"], c["StatusMessage"], c["Flags"],
    )  # fmt: skip
    ev_ts, ev_names, ev_attrs = c["Events.Timestamp"], c["Events.Name"], c["Events.Attributes"]
    ln_tid, ln_sid, ln_state, ln_attrs = (
        c["Links.TraceId"], c["Links.SpanId"], c["Links.TraceState"], c["Links.Attributes"],
    )  # fmt: skip
    n_kinds = len(KIND_NAMES)

    for rs in request.resource_spans:
        res_json, res_values = _message_attributes(rs.resource.attributes)
        service = res_values.get("service.name", "")
        for ss in rs.scope_spans:
            scope_name, scope_version = ss.scope.name, ss.scope.version
            for s in ss.spans:
                trace_id, span_id, parent = s.trace_id, s.span_id, s.parent_span_id
                start, end = s.start_time_unix_nano, s.end_time_unix_nano
                problem = span_problem(trace_id, span_id, parent, start, end)
                if problem:
                    batch.reject(f"span {s.name!r}: {problem}")
                    continue
                events = s.events
                ev_times = [e.time_unix_nano for e in events] if events else []
                if ev_times and max(ev_times) > MAX_TIMESTAMP_NS:
                    batch.reject(f"span {s.name!r}: event timestamp out of range")
                    continue
                attrs_json = _attributes(s.attributes)
                ts.append(start)
                tid.append(trace_id.hex())
                sid.append(span_id.hex())
                pid.append(parent.hex() if parent != _ZERO_SPAN else "")
                tstate.append(s.trace_state)
                names.append(s.name)
                kind = s.kind
                kinds.append(KIND_NAMES[kind] if 0 <= kind < n_kinds else "Unspecified")
                services.append(service)
                rattrs.append(res_json)
                scopes.append(scope_name)
                versions.append(scope_version)
                sattrs.append(attrs_json)
                durations.append(end - start)
                status = s.status
                code = status.code
                codes.append(STATUS_NAMES[code] if 0 <= code < 3 else "Unset")
                messages.append(status.message)
                flags.append(s.flags)
                ev_ts.append(ev_times)
                if events:
                    ev_names.append([e.name for e in events])
                    ev_attrs.append([_attributes(e.attributes) for e in events])
                else:
                    ev_names.append([])
                    ev_attrs.append([])
                links = s.links
                if links:
                    ln_tid.append([lk.trace_id.hex() for lk in links])
                    ln_sid.append([lk.span_id.hex() for lk in links])
                    ln_state.append([lk.trace_state for lk in links])
                    ln_attrs.append([_attributes(lk.attributes) for lk in links])
                else:
                    ln_tid.append([])
                    ln_sid.append([])
                    ln_state.append([])
                    ln_attrs.append([])
    return batch


def count_spans(body: bytes) -> int:
    """Spans in a protobuf request, without decoding them (for rejected-request accounting)."""
    try:
        request = _Request.FromString(body)
    except DecodeError:
        return 0
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
