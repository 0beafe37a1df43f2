"""SDK setup for an app process: batch processor + OTLP/HTTP exporter (endpoint from env)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from tests.systems.shop.telemetry import setup_tracing


def setup(service_name: str) -> TracerProvider:
    return setup_tracing(service_name)
