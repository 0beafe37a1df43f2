"""The official OpenTelemetry Python SDK, with its own OTLP exporters (HTTP/protobuf and gRPC,
with and without gzip), sends a Celery-shaped job's spans to ``audit serve``; after SIGTERM the
store holds exactly those spans, with their attributes, kinds, parentage, events and links."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.integration.receivers.conftest import AuditServer, start_server, stop_cleanly
from tests.integration.receivers.rows import stored_rows
from tests.unit.otlp.builders import sdk_span_row, sdk_spans

pytestmark = pytest.mark.integration


def exporter(transport: str, server: AuditServer):  # type: ignore[no-untyped-def]
    if transport == "http":
        return HttpSpanExporter(endpoint=server.url, timeout=10)
    if transport == "http+gzip":
        return HttpSpanExporter(endpoint=server.url, timeout=10, compression=HttpCompression.Gzip)
    if transport == "grpc":
        return GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=10)
    if transport == "grpc+gzip":
        return GrpcSpanExporter(
            endpoint=server.grpc_target,
            insecure=True,
            timeout=10,
            compression=grpc.Compression.Gzip,
        )
    raise ValueError(transport)


TRANSPORTS = ["http", "http+gzip", "grpc", "grpc+gzip"]


def test_sdk_exporters_over_every_transport_store_exactly_the_spans_they_sent(
    tmp_path: Path,
) -> None:
    # One server for the four exporters (each with its own service name), so that the store
    # must hold exactly the union, and each exporter's spans intact.
    server = start_server(tmp_path)
    sent = {}
    try:
        for transport in TRANSPORTS:
            processor = BatchSpanProcessor(exporter(transport, server), schedule_delay_millis=50)
            sent[transport] = sdk_spans(f"shop-{transport}", processor)
    finally:
        stop_cleanly(server)
    expected = sorted(
        (sdk_span_row(span) for spans in sent.values() for span in spans),
        key=lambda row: (row["TraceId"], row["SpanId"]),
    )
    assert len(expected) == 4 * 6
    assert stored_rows(server) == expected
    for transport in TRANSPORTS:
        rows = stored_rows(server, 'WHERE "ServiceName" = ?', [f"shop-{transport}"])
        by_name = {row["SpanName"]: row for row in rows}
        assert len(rows) == 6, transport
        run = by_name["run/shop.send_order_confirmation"]
        assert run["SpanKind"] == "Consumer"
        assert run["ParentSpanId"] == by_name["apply_async/shop.send_order_confirmation"]["SpanId"]
        assert run["Events.Name"] == ["job.done"]
        assert run["SpanAttributes"] == {
            "celery.state": "SUCCESS",
            "celery.retries": 1,
            "ratio": 0.25,
        }
        smtp = by_name["smtp.send"]
        assert (smtp["SpanKind"], smtp["ParentSpanId"]) == ("Client", run["SpanId"])
        assert smtp["SpanAttributes"]["server.port"] == 8025
        assert smtp["SpanAttributes"]["smtp.recipients"] == ["a@example.test", "b@example.test"]
        assert by_name["crm.update"]["StatusCode"] == "Error"
        assert by_name["crm.update"]["Events.Name"] == ["exception"]
        assert by_name["moveStalledJobsToWait emails"]["Links.SpanId"] == [
            by_name["apply_async/shop.send_order_confirmation"]["SpanId"]
        ]


def test_every_span_is_stored_once_when_an_exporter_sends_the_same_batch_twice(
    audit_server: AuditServer,
) -> None:
    # what an exporter does after a timeout: the whole batch again
    spans = sdk_spans("shop-retry")
    http = exporter("http", audit_server)
    grpc_exporter = exporter("grpc", audit_server)
    from opentelemetry.sdk.trace.export import SpanExportResult

    assert http.export(spans) == SpanExportResult.SUCCESS
    assert http.export(spans) == SpanExportResult.SUCCESS
    assert grpc_exporter.export(spans) == SpanExportResult.SUCCESS
    http.shutdown()
    grpc_exporter.shutdown()
    stop_cleanly(audit_server)
    assert stored_rows(audit_server) == sorted(
        (sdk_span_row(s) for s in spans), key=lambda r: (r["TraceId"], r["SpanId"])
    )
