"""Confirmations → ``side_effect.confirm`` spans → OTLP/HTTP, acknowledged or not.

Spans are built with the OpenTelemetry SDK, with trace and span ids derived from each
confirmation's identity (``rows.span_ids``): re-sending after a crash or a failed export
produces the very same span, which ``audit serve`` stores once. They are exported directly
with the OTLP/HTTP exporter (no batch processor): the caller learns whether the collector
acknowledged, and saves the state only then.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from auditor import __version__
from auditor.reconcile.rows import Confirmation, span_ids
from probes import semconv

SCOPE = "auditor.reconcile"


class _PresetIds(IdGenerator):
    """Hands out the ids set just before a span starts; random ones otherwise."""

    def __init__(self) -> None:
        self.next: tuple[int, int] | None = None

    def generate_span_id(self) -> int:
        return self.next[1] if self.next else random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.next[0] if self.next else random.getrandbits(128) or 1


class _Keep(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def traces_url(endpoint: str) -> str:
    """``http://host:4318`` → ``http://host:4318/v1/traces`` (a full URL is kept)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


class ConfirmationExporter:
    def __init__(self, endpoint: str, service: str, timeout: float = 10.0) -> None:
        self.url = traces_url(endpoint)
        self._ids = _PresetIds()
        self._keep = _Keep()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": service}), id_generator=self._ids
        )
        self.provider.add_span_processor(self._keep)
        self.tracer = self.provider.get_tracer(SCOPE, __version__)
        self.exporter = OTLPSpanExporter(endpoint=self.url, timeout=timeout)
        # The exporter logs (and retries) on its own; the CLI reports one line instead.
        logging.getLogger("opentelemetry.exporter.otlp.proto.http").setLevel(logging.CRITICAL)

    def span(self, confirmation: Confirmation) -> ReadableSpan:
        self._ids.next = span_ids(confirmation.identity)
        try:
            at = confirmation.time_ns or time.time_ns()
            attributes: dict[str, Any] = dict(confirmation.attributes)
            span = self.tracer.start_span(
                semconv.SIDE_EFFECT_CONFIRM_SPAN,
                kind=SpanKind.INTERNAL,
                attributes=attributes,
                start_time=at,
            )
            if not confirmation.ok:
                span.set_status(Status(StatusCode.ERROR, "the system of record reports a failure"))
            span.end(end_time=at)
        finally:
            self._ids.next = None
        return self._keep.ended.pop()

    def export(self, spans: Sequence[ReadableSpan]) -> bool:
        """True when the collector acknowledged every span."""
        if not spans:
            return True
        return self.exporter.export(list(spans)) is SpanExportResult.SUCCESS

    def close(self) -> None:
        self.exporter.shutdown()
