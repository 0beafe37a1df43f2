"""OpenTelemetry SDK setup for one shop process (worker child, RQ worker, or producer).

Spans go through a ``BatchSpanProcessor`` to the OTLP/HTTP protobuf exporter, which reads
``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` is appended) and the batch processor reads
``OTEL_BSP_SCHEDULE_DELAY``; the harness sets both. The caller must ``shutdown()`` the returned
provider before the process exits, or the last batch is lost.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def setup_tracing(service_name: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
