"""OTLP requests for the decoder, store and receiver tests, built with the official classes.

- ``job_request`` builds a Celery-shaped trace (as real workers emit them): ``apply_async`` → ``run`` (with a
  ``job.done`` event) → ``smtp.send`` and ``side_effect.confirm``, plus a span with a link, an
  error status and every ``AnyValue`` type. ``span_ids`` makes the ids unique per request.
- ``sdk_spans`` makes the same shape with the real OpenTelemetry SDK (finished
  ``ReadableSpan`` objects); ``encode_spans`` of the OTLP exporters turns them into a request.
- ``otlp_json`` is an OTLP/JSON encoder written for the tests (independent of
  ``auditor.otlp.encode``), with the variations the OTLP/JSON spec allows: upper-case hex ids,
  64-bit integers as JSON numbers, enums by name, unknown fields.
- ``gzip_bomb`` is a valid gzip member of N MiB of zeros that costs ~1 KiB per MiB.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

BASE_NS = 1_764_316_800_000_000_000  # 2025-11-28T08:00:00Z
SERVICE = "shop-celery-worker"


def kv(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def any_value(value: Any) -> AnyValue:
    """A Python value as an AnyValue (``None`` → empty, ``bytes`` → bytes, …)."""
    if value is None:
        return AnyValue()
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=[kv(k, v) for k, v in value.items()]))
    raise TypeError(value)


# Every AnyValue type, and what values.py says the stored JSON holds for it.
EVERY_VALUE: list[tuple[str, Any, Any]] = [
    # key, value given to any_value, the JSON value stored
    ("string", "ORD-1001", "ORD-1001"),
    ("string.empty", "", ""),
    ("string.unicode", 'Grüße ✉ "quoted" \\ \n', 'Grüße ✉ "quoted" \\ \n'),
    ("int", 8025, 8025),
    ("int.negative", -(2**63), -(2**63)),
    ("int.max", 2**63 - 1, 2**63 - 1),
    ("double", 1.5, 1.5),
    ("double.nan", math.nan, "NaN"),
    ("double.inf", math.inf, "Infinity"),
    ("double.ninf", -math.inf, "-Infinity"),
    ("bool.true", True, True),
    ("bool.false", False, False),
    ("bytes", b"\x00\x01\xfe\xff", "AAH+/w=="),
    ("bytes.empty", b"", ""),
    ("array", ["a", 1, 2.5, True], ["a", 1, 2.5, True]),
    ("array.empty", [], []),
    ("kvlist", {"queue": "emails", "attempt": 2}, {"queue": "emails", "attempt": 2}),
    ("kvlist.empty", {}, {}),
    (
        "nested",
        {"ids": ["3", "4"], "inner": {"nan": math.nan, "raw": b"\x01", "none": None}},
        {"ids": ["3", "4"], "inner": {"nan": "NaN", "raw": "AQ==", "none": None}},
    ),
    ("empty", None, None),
]


def every_value_attributes() -> list[KeyValue]:
    return [kv(key, value) for key, value, _ in EVERY_VALUE]


def trace_id(n: int) -> bytes:
    return (0x4BF92F3577B34DA6A3CE929D00000000 + n).to_bytes(16, "big")


def span_id(n: int) -> bytes:
    return (0x00F067AA0BA90000 + n).to_bytes(8, "big")


def job_request(
    n: int = 1, *, service: str = SERVICE, start_ns: int = BASE_NS
) -> ExportTraceServiceRequest:
    """One Celery-shaped job trace; ``n`` makes trace and span ids unique (6 spans per n)."""
    tid = trace_id(n)
    producer, run, smtp, confirm, failing, linked = (span_id(n * 8 + i) for i in range(6))
    job_id = f"5a1f0c8e-0000-4000-8000-{n:012d}"
    t = start_ns

    def span(**fields: Any) -> Span:
        return Span(trace_id=tid, **fields)

    spans = [
        span(
            span_id=producer,
            name="apply_async/shop.send_order_confirmation",
            kind=Span.SPAN_KIND_PRODUCER,
            start_time_unix_nano=t,
            end_time_unix_nano=t + 2_000_000,
            flags=0x100,
            attributes=[
                kv("celery.action", "apply_async"),
                kv("messaging.message.id", job_id),
                kv("celery.task_name", "shop.send_order_confirmation"),
                kv("messaging.destination", "emails"),
            ],
        ),
        span(
            span_id=run,
            parent_span_id=producer,
            name="run/shop.send_order_confirmation",
            kind=Span.SPAN_KIND_CONSUMER,
            start_time_unix_nano=t + 5_000_000,
            end_time_unix_nano=t + 90_000_000,
            flags=0x300,
            trace_state="rojo=00f067aa0ba902b7",
            attributes=[
                kv("celery.action", "run"),
                kv("celery.state", "SUCCESS"),
                kv("messaging.message.id", job_id),
                kv("celery.delivery_info", "{'routing_key': 'emails', 'redelivered': False}"),
            ],
            events=[
                Span.Event(
                    time_unix_nano=t + 80_000_000,
                    name="job.done",
                    attributes=[
                        kv("job.id", job_id),
                        kv("job.status", "completed"),
                        kv("side_effect.key", f"ORD-{1000 + n}"),
                    ],
                )
            ],
            status=Status(),
        ),
        span(
            span_id=smtp,
            parent_span_id=run,
            name="smtp.send",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=t + 10_000_000,
            end_time_unix_nano=t + 60_000_000,
            flags=0x100,
            attributes=[
                kv("server.address", "127.0.0.1"),
                kv("server.port", 8025),
                kv("network.protocol.name", "smtp"),
                kv("side_effect.key", f"ORD-{1000 + n}"),
                kv("job.id", job_id),
            ],
        ),
        span(
            span_id=confirm,
            parent_span_id=run,
            name="side_effect.confirm",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=t + 61_000_000,
            end_time_unix_nano=t + 61_000_000,
            attributes=[
                kv("side_effect.name", "email.sent"),
                kv("side_effect.key", f"ORD-{1000 + n}"),
                kv("job.id", job_id),
            ],
        ),
        span(
            span_id=failing,
            parent_span_id=run,
            name="crm.update",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=t + 62_000_000,
            end_time_unix_nano=t + 70_000_000,
            status=Status(code=Status.STATUS_CODE_ERROR, message="crm timeout"),
            events=[
                Span.Event(
                    time_unix_nano=t + 69_000_000,
                    name="exception",
                    attributes=[kv("exception.type", "CrmUnavailable")],
                )
            ],
            attributes=every_value_attributes(),
        ),
        span(
            span_id=linked,
            name="moveStalledJobsToWait emails",
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=t + 100_000_000,
            end_time_unix_nano=t + 101_000_000,
            links=[
                Span.Link(
                    trace_id=tid,
                    span_id=run,
                    trace_state="rojo=1",
                    attributes=[kv("bullmq.job.id", "3")],
                    flags=0x100,
                )
            ],
        ),
    ]
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[
                        kv("service.name", service),
                        kv("process.pid", 4242),
                        kv("telemetry.sdk.language", "python"),
                    ]
                ),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name="shop.jobs", version="1.0.0"),
                        spans=spans,
                        schema_url="https://opentelemetry.io/schemas/1.11.0",
                    )
                ],
            )
        ]
    )


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def span_count(request: ExportTraceServiceRequest) -> int:
    return len(spans_of(request))


# ------------------------------------------------------------------------- OTLP/JSON

_ID_KEYS = ("traceId", "spanId", "parentSpanId")
_KIND_NAMES = {v: k for k, v in Span.SpanKind.items()}
_STATUS_NAMES = {v: k for k, v in Status.StatusCode.items()}
_INT64_KEYS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue")


def otlp_json(
    request: ExportTraceServiceRequest,
    *,
    upper_ids: bool = False,
    ints_as_numbers: bool = False,
    enum_names: bool = False,
    unknown_fields: bool = False,
    indent: int | None = None,
) -> bytes:
    """The OTLP/JSON encoding of ``request`` (hex ids; the rest per the protobuf JSON mapping)."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)

    def fix_ids(obj: dict[str, Any]) -> None:
        import base64

        for key in _ID_KEYS:
            if key in obj:
                text = base64.b64decode(obj[key]).hex()
                obj[key] = text.upper() if upper_ids else text

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for key in list(obj):
                value = obj[key]
                if ints_as_numbers and key in _INT64_KEYS and isinstance(value, str):
                    obj[key] = int(value)
                walk(value)
            if unknown_fields:  # first, so that readers must skip it rather than stop early
                rest = dict(obj)
                obj.clear()
                obj["xFutureField"] = {"nested": [1, "two", None]}
                obj.update(rest)
        elif isinstance(obj, list):
            for item in obj:
                walk(item)

    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                fix_ids(span)
                for link in span.get("links", []):
                    fix_ids(link)
                if enum_names:
                    if "kind" in span:
                        span["kind"] = _KIND_NAMES[span["kind"]]
                    if "code" in span.get("status", {}):
                        span["status"]["code"] = _STATUS_NAMES[span["status"]["code"]]
    walk(document)
    return json.dumps(document, indent=indent).encode()


# ------------------------------------------------------------------------- SDK spans


def sdk_spans(service: str = "shop-api", *processors: Any) -> list[Any]:
    """Finished spans of a Celery-shaped job made by the real OpenTelemetry SDK; also handed
    to ``processors`` (e.g. a ``BatchSpanProcessor`` around an OTLP exporter), which are shut
    down (flushed) before this returns."""
    from opentelemetry.sdk.resources import Resource as SdkResource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=SdkResource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for processor in processors:
        provider.add_span_processor(processor)
    record_job_spans(provider.get_tracer("shop.jobs", "1.0.0"))
    provider.shutdown()
    return list(exporter.get_finished_spans())


def record_job_spans(tracer: Any) -> None:
    """apply_async → run (job.done event) → smtp.send, side_effect.confirm, crm.update (error,
    exception event); then a stalled-check root span linked to the producer."""
    from opentelemetry.trace import Link, SpanKind, StatusCode

    job_id = "2c8ae1e0-8d6a-4f57-9a55-0b7e3f9ad5a1"
    with (
        tracer.start_as_current_span(
            "apply_async/shop.send_order_confirmation",
            kind=SpanKind.PRODUCER,
            attributes={"celery.action": "apply_async", "messaging.message.id": job_id},
        ) as producer,
        tracer.start_as_current_span(
            "run/shop.send_order_confirmation",
            kind=SpanKind.CONSUMER,
            attributes={"celery.state": "SUCCESS", "celery.retries": 1, "ratio": 0.25},
        ) as run,
    ):
        with tracer.start_as_current_span(
            "smtp.send",
            kind=SpanKind.CLIENT,
            attributes={
                "server.address": "127.0.0.1",
                "server.port": 8025,
                "smtp.recipients": ("a@example.test", "b@example.test"),
                "smtp.ok": True,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "side_effect.confirm",
            attributes={"side_effect.name": "email.sent", "side_effect.key": "ORD-1001"},
        ):
            pass
        with tracer.start_as_current_span("crm.update", kind=SpanKind.CLIENT) as crm:
            crm.record_exception(RuntimeError("crm timeout"))
            crm.set_status(StatusCode.ERROR, "crm timeout")
        run.add_event("job.done", {"job.id": job_id, "job.status": "completed"})
    with tracer.start_as_current_span(
        "moveStalledJobsToWait emails",
        links=[Link(producer.get_span_context(), {"link.reason": "stalled"})],
    ):
        pass


def sdk_request(service: str = "shop-api") -> ExportTraceServiceRequest:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(sdk_spans(service))


# ------------------------------------------------------------------------- gzip


def gzip_bomb(mib: int) -> bytes:
    """A valid gzip member that inflates to ``mib`` MiB of zeros (about 1 KiB per MiB).

    One MiB of zeros is deflated once, ending in a full flush so the block does not refer to
    earlier data, and repeated; the trailer carries the real CRC-32 and size.
    """
    zeros = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    final_empty_block = b"\x03\x00"
    return header + block * mib + final_empty_block + struct.pack("<II", crc, (mib << 20) % 2**32)


def sdk_span_row(span: Any) -> dict[str, Any]:
    """The ``otel_traces`` row an SDK ``ReadableSpan`` must become (JSON columns parsed)."""
    ctx = span.get_span_context()
    status = span.status.status_code.name  # UNSET, OK, ERROR

    def attributes(mapping: Any) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in (mapping or {}).items()}

    return {
        "Timestamp": span.start_time,
        "TraceId": f"{ctx.trace_id:032x}",
        "SpanId": f"{ctx.span_id:016x}",
        "ParentSpanId": f"{span.parent.span_id:016x}" if span.parent else "",
        "TraceState": ctx.trace_state.to_header(),
        "SpanName": span.name,
        "SpanKind": span.kind.name.capitalize(),
        "ServiceName": span.resource.attributes["service.name"],
        "ResourceAttributes": attributes(span.resource.attributes),
        "ScopeName": span.instrumentation_scope.name,
        "ScopeVersion": span.instrumentation_scope.version,
        "SpanAttributes": attributes(span.attributes),
        "Duration": span.end_time - span.start_time,
        "StatusCode": status.capitalize(),
        "StatusMessage": span.status.description or "",
        "Events.Timestamp": [e.timestamp for e in span.events],
        "Events.Name": [e.name for e in span.events],
        "Events.Attributes": [attributes(e.attributes) for e in span.events],
        "Links.TraceId": [f"{lk.context.trace_id:032x}" for lk in span.links],
        "Links.SpanId": [f"{lk.context.span_id:016x}" for lk in span.links],
        "Links.TraceState": [lk.context.trace_state.to_header() for lk in span.links],
        "Links.Attributes": [attributes(lk.attributes) for lk in span.links],
        # the SDK sends "is remote known" (0x100), plus 0x200 for a remote parent
        "Flags": 0x100 | (0x200 if span.parent is not None and span.parent.is_remote else 0),
    }


JSON_COLUMNS = ("ResourceAttributes", "SpanAttributes")
JSON_LIST_COLUMNS = ("Events.Attributes", "Links.Attributes")


def parse_json_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A decoded or stored row with its JSON text columns parsed, to compare with sdk_span_row."""
    out = dict(row)
    for column in JSON_COLUMNS:
        out[column] = json.loads(out[column])
    for column in JSON_LIST_COLUMNS:
        out[column] = [json.loads(text) for text in out[column]]
    return out
