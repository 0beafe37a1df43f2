"""A real capture for the API tests: the Celery shop's spans (``tests/data/captures/celery``),
the rules that find its 8 lies, and two ways to send it to ``audit serve``: the official
OpenTelemetry exporters (the capture's spans rebuilt as the SDK's ``ReadableSpan``, half over
OTLP/HTTP, half over OTLP/gRPC), or its OTLP/JSON lines posted as they are."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tests.integration.receivers.conftest import AUDIT, AuditServer

REPO = Path(__file__).resolve().parents[3]
CAPTURE = REPO / "tests/data/captures/celery/traces.jsonl"
RULES = REPO / "tests/data/fixtures/api/celery_shop.yaml"
FINDINGS = 8  # what `audit scan CAPTURE --rules RULES` finds
SPANS = 42


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs}


_IDS = ("traceId", "spanId", "parentSpanId")


def _protobuf_json(node: Any) -> Any:
    """OTLP/JSON writes ids in hex; protobuf's JSON mapping wants base64."""
    if isinstance(node, list):
        return [_protobuf_json(n) for n in node]
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode() if k in _IDS else _protobuf_json(v)
            for k, v in node.items()
        }
    return node


def capture_requests() -> list[ExportTraceServiceRequest]:
    return [
        json_format.ParseDict(_protobuf_json(json.loads(line)), ExportTraceServiceRequest())
        for line in CAPTURE.read_text().splitlines()
        if line.strip()
    ]


def sdk_spans() -> list[ReadableSpan]:
    """The capture's spans as the OpenTelemetry SDK hands them to an exporter."""
    spans = []
    for request in capture_requests():
        for resource_spans in request.resource_spans:
            resource = Resource(_attributes(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version)
                for s in scope_spans.spans:
                    trace_id = int.from_bytes(s.trace_id, "big")

                    def context(span_id: bytes, trace: int = trace_id) -> SpanContext:
                        return SpanContext(
                            trace, int.from_bytes(span_id, "big"), False, TraceFlags(1)
                        )

                    spans.append(
                        ReadableSpan(
                            name=s.name,
                            context=context(s.span_id),
                            parent=context(s.parent_span_id) if s.parent_span_id else None,
                            resource=resource,
                            attributes=_attributes(s.attributes),
                            events=[
                                Event(e.name, _attributes(e.attributes), e.time_unix_nano)
                                for e in s.events
                            ],
                            links=[
                                Link(
                                    SpanContext(
                                        int.from_bytes(link.trace_id, "big"),
                                        int.from_bytes(link.span_id, "big"),
                                        False,
                                    ),
                                    _attributes(link.attributes),
                                )
                                for link in s.links
                            ],
                            kind=SpanKind(max(s.kind - 1, 0)),
                            status=Status(StatusCode(s.status.code), s.status.message or None),
                            start_time=s.start_time_unix_nano,
                            end_time=s.end_time_unix_nano,
                            instrumentation_scope=scope,
                        )
                    )
    return spans


def http_exporter(server: AuditServer, token: str | None) -> HttpSpanExporter:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return HttpSpanExporter(endpoint=server.url, timeout=10, headers=headers)


def grpc_exporter(server: AuditServer, token: str | None) -> GrpcSpanExporter:
    headers = (("authorization", f"Bearer {token}"),) if token else None
    return GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=10, headers=headers)


def export_capture(server: AuditServer, token: str | None) -> None:
    """The capture through the official exporters: the first half over HTTP, the rest gRPC."""
    spans = sdk_spans()
    assert len(spans) == SPANS
    half = len(spans) // 2
    for exporter, part in (
        (http_exporter(server, token), spans[:half]),
        (grpc_exporter(server, token), spans[half:]),
    ):
        try:
            assert exporter.export(part) == SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()


def post_spans(server: AuditServer, token: str | None, lines: list[str]) -> None:
    """OTLP/JSON request bodies, posted as they are."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for line in lines:
        response = httpx.post(server.url, content=line, headers=headers, timeout=10)
        assert response.status_code == 200, response.text


def post_capture(server: AuditServer, token: str | None) -> None:
    post_spans(server, token, [line for line in CAPTURE.read_text().splitlines() if line])


def one_more_span() -> list[str]:
    """A span of no job: new data for the evaluation loop, and no finding."""
    span = {
        "traceId": "5" * 32,
        "spanId": "6" * 16,
        "name": "GET /health",
        "kind": 2,
        "startTimeUnixNano": str(time.time_ns()),
        "endTimeUnixNano": str(time.time_ns() + 1000),
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    return [json.dumps(body)]


def api(server: AuditServer) -> str:
    return f"http://127.0.0.1:{server.http_port}"


def wait_for_findings(server: AuditServer, token: str | None, count: int = FINDINGS) -> None:
    """Until the evaluation loop has judged every committed span and found ``count``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = httpx.get(f"{api(server)}/api/v1/stats", headers=headers, timeout=10).json()
        evaluation = stats["evaluation"] or {}
        if (
            stats["store"]["spans"] == SPANS
            and evaluation.get("waiting_s") == 0
            and evaluation.get("findings") == count
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"no evaluation found {count} findings in time:\n{server.output()}")


def audit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUDIT, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def scan_json(*args: str) -> tuple[int, dict[str, Any], str]:
    """``audit scan ARGS -f json``: exit code, the document, and its text."""
    done = audit("scan", *args, "-f", "json")
    return done.returncode, json.loads(done.stdout) if done.stdout else {}, done.stdout
