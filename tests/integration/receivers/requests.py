"""Request helpers for the receiver tests: unique job traces and the ids they carry."""

from __future__ import annotations

import itertools

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.unit.otlp.builders import job_request, spans_of

_numbers = itertools.count(1000)


def fresh_request(**kwargs: object) -> ExportTraceServiceRequest:
    """A job trace (6 spans) whose ids no other request of this test run uses."""
    return job_request(next(_numbers), **kwargs)  # type: ignore[arg-type]


def ids_of(request: ExportTraceServiceRequest) -> set[tuple[str, str]]:
    return {(s.trace_id.hex(), s.span_id.hex()) for s in spans_of(request)}


def with_invalid_spans(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    """``request`` plus two spans a receiver must reject one by one (partial success)."""
    spans = request.resource_spans[0].scope_spans[0].spans
    template = spans[0]
    spans.append(Span(trace_id=template.trace_id[:8], span_id=b"\x01" * 8, name="short-trace-id"))
    spans.append(Span(trace_id=template.trace_id, span_id=bytes(8), name="zero-span-id"))
    return request
