"""OTLP/JSON → ``SpanBatch``, exactly as the OTLP specification defines the JSON encoding.

- keys are lowerCamelCase field names; unknown keys are ignored;
- trace and span ids are hex strings (case-insensitive; stored lowercase);
- enums (``kind``, ``status.code``) are integers (their proto names are accepted too);
- 64-bit integers (timestamps, ``intValue``) are decimal strings or JSON numbers.

Used by the HTTP receiver (``Content-Type: application/json``) and by ``audit ingest`` for
OTLP JSON lines (the Collector file exporter's format: one request per line).
Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.otlp.batch import KIND_NAMES, STATUS_NAMES, OtlpDecodeError, SpanBatch, span_problem
from auditor.otlp.values import InvalidValue, json_member_value, native_json, parse_int64

_KIND_BY_PROTO_NAME = {f"SPAN_KIND_{n.upper()}": i for i, n in enumerate(KIND_NAMES)}
_KIND_BY_PROTO_NAME["SPAN_KIND_UNSPECIFIED"] = 0
_STATUS_BY_PROTO_NAME = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


class _SpanInvalid(ValueError):
    """One span cannot be stored; the rest of the request can."""


def decode_json(body: bytes | str) -> SpanBatch:
    """Decode one OTLP/JSON ``ExportTraceServiceRequest``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpDecodeError(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise OtlpDecodeError("body is not valid JSON: nested too deeply") from None
    return decode_json_object(document)


def decode_json_object(document: Any) -> SpanBatch:
    if not isinstance(document, dict):
        raise OtlpDecodeError("an OTLP/JSON request must be an object with 'resourceSpans'")
    batch = SpanBatch()
    for r_index, rs in enumerate(_list(document, "resourceSpans", "request")):
        where = f"resourceSpans[{r_index}]"
        rs = _object(rs, where)
        resource = _object(rs.get("resource") or {}, f"{where}.resource")
        try:
            res_json, res_values = _attributes(resource.get("attributes"))
        except InvalidValue as exc:
            raise OtlpDecodeError(f"{where}.resource.attributes: {exc}") from None
        service = res_values.get("service.name", "")
        for s_index, ss in enumerate(_list(rs, "scopeSpans", where)):
            swhere = f"{where}.scopeSpans[{s_index}]"
            ss = _object(ss, swhere)
            scope = _object(ss.get("scope") or {}, f"{swhere}.scope")
            try:
                scope_name = _string(scope.get("name"), "name")
                scope_version = _string(scope.get("version"), "version")
            except _SpanInvalid as exc:
                raise OtlpDecodeError(f"{swhere}.scope: {exc}") from None
            for p_index, span in enumerate(_list(ss, "spans", swhere)):
                span = _object(span, f"{swhere}.spans[{p_index}]")
                try:
                    row = _span(span)
                except (_SpanInvalid, InvalidValue) as exc:
                    batch.reject(f"span {span.get('name', '')!r}: {exc}")
                    continue
                row.update(
                    ServiceName=service,
                    ResourceAttributes=res_json,
                    ScopeName=scope_name,
                    ScopeVersion=scope_version,
                )
                for column, value in row.items():
                    batch.columns[column].append(value)
    return batch


def _span(span: dict[str, Any]) -> dict[str, Any]:
    trace_id = _hex_id(span.get("traceId"), "traceId")
    span_id = _hex_id(span.get("spanId"), "spanId")
    parent = _hex_id(span.get("parentSpanId"), "parentSpanId")
    start = parse_int64(span.get("startTimeUnixNano", 0), "startTimeUnixNano", unsigned=True)
    end = parse_int64(span.get("endTimeUnixNano", 0), "endTimeUnixNano", unsigned=True)
    problem = span_problem(trace_id, span_id, parent, start, end)
    if problem:
        raise _SpanInvalid(problem)
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise _SpanInvalid("status must be an object")
    events = span.get("events") or []
    links = span.get("links") or []
    if not isinstance(events, list) or not isinstance(links, list):
        raise _SpanInvalid("events and links must be lists")
    ev_times, ev_names, ev_attrs = [], [], []
    for event in events:
        if not isinstance(event, dict):
            raise _SpanInvalid("each event must be an object")
        ev_times.append(parse_int64(event.get("timeUnixNano", 0), "timeUnixNano", unsigned=True))
        ev_names.append(_string(event.get("name"), "event name"))
        ev_attrs.append(_attributes(event.get("attributes"))[0])
    if any(t > 2**63 - 1 for t in ev_times):
        raise _SpanInvalid("event timestamp out of range")
    ln_trace, ln_span, ln_state, ln_attrs = [], [], [], []
    for link in links:
        if not isinstance(link, dict):
            raise _SpanInvalid("each link must be an object")
        ln_trace.append(_hex_id(link.get("traceId"), "link traceId").hex())
        ln_span.append(_hex_id(link.get("spanId"), "link spanId").hex())
        ln_state.append(_string(link.get("traceState"), "link traceState"))
        ln_attrs.append(_attributes(link.get("attributes"))[0])
    attrs_json, _ = _attributes(span.get("attributes"))
    return {
        "Timestamp": start,
        "TraceId": trace_id.hex(),
        "SpanId": span_id.hex(),
        "ParentSpanId": "" if parent == bytes(8) else parent.hex(),
        "TraceState": _string(span.get("traceState"), "traceState"),
        "SpanName": _string(span.get("name"), "name"),
        "SpanKind": KIND_NAMES[_enum(span.get("kind", 0), _KIND_BY_PROTO_NAME, "kind")],
        "SpanAttributes": attrs_json,
        "Duration": end - start,
        "StatusCode": STATUS_NAMES[_enum(status.get("code", 0), _STATUS_BY_PROTO_NAME, "code")],
        "StatusMessage": _string(status.get("message"), "status message"),
        "Events.Timestamp": ev_times,
        "Events.Name": ev_names,
        "Events.Attributes": ev_attrs,
        "Links.TraceId": ln_trace,
        "Links.SpanId": ln_span,
        "Links.TraceState": ln_state,
        "Links.Attributes": ln_attrs,
        "Flags": parse_int64(span.get("flags", 0), "flags", unsigned=True) & 0xFFFFFFFF,
    }


def _attributes(raw: Any) -> tuple[str, dict[str, str]]:
    """(JSON object text, string-valued attributes) of an OTLP/JSON attribute list.

    A key repeated on the wire (OTLP leaves it undefined) is kept as the protobuf decoder
    keeps it, every member in order, so both encodings store the same text; JSON readers
    (DuckDB, the Collector's pdata) read the first.
    """
    if raw is None:
        return "{}", {}
    if not isinstance(raw, list):
        raise InvalidValue("attributes must be a list of {key, value} objects")
    members: list[str] = []
    strings: dict[str, str] = {}
    for kv in raw:
        if not isinstance(kv, dict) or not isinstance(kv.get("key", ""), str):
            raise InvalidValue("attributes must be a list of {key, value} objects")
        key = kv.get("key", "")
        kind, value = native_json(kv.get("value", {}))
        members.append(json.dumps(key) + ":" + json_member_value(kind, value))
        if kind == "string":
            strings.setdefault(key, value)
    return "{" + ",".join(members) + "}", strings


def _hex_id(raw: Any, what: str) -> bytes:
    if raw is None or raw == "":
        return b""
    if not isinstance(raw, str):
        raise _SpanInvalid(f"{what} must be a hex string")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise _SpanInvalid(f"{what} {raw!r} is not hex") from None


def _enum(raw: Any, by_name: dict[str, int], what: str) -> int:
    if isinstance(raw, str) and raw in by_name:
        return by_name[raw]
    value = parse_int64(raw, what)
    # Unknown enum values are kept by protobuf; we store them as unspecified / unset.
    return value if 0 <= value < (len(KIND_NAMES) if what == "kind" else len(STATUS_NAMES)) else 0


def _string(raw: Any, what: str) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise _SpanInvalid(f"{what} must be a string")
    return raw


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpDecodeError(f"{where}.{key} must be a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise OtlpDecodeError(f"{where} must be an object")
    return value
