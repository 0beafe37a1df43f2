"""Protobuf and OTLP/JSON are two spellings of one request: both decoders store identical rows.

Requests are built with the official ``opentelemetry-proto`` classes and with the real OTel SDK
(``encode_spans``, what the OTLP exporters send); the JSON side is the OTLP/JSON encoding of the
same request, in each variation the OTLP/JSON specification allows.
"""

from __future__ import annotations

import json

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from auditor.otlp.batch import ARROW_SCHEMA, COLUMNS
from auditor.otlp.encode import request_to_json
from auditor.otlp.otlpjson import decode_json
from auditor.otlp.protobuf import decode_protobuf
from tests.unit.otlp.builders import (
    BASE_NS,
    job_request,
    kv,
    otlp_json,
    parse_json_columns,
    sdk_request,
    sdk_span_row,
    sdk_spans,
    span_count,
    span_id,
    trace_id,
)

JSON_VARIANTS = {
    "canonical": {},
    "upper-case ids": {"upper_ids": True},
    "int64 as numbers": {"ints_as_numbers": True},
    "enums by name": {"enum_names": True},
    "unknown fields": {"unknown_fields": True},
    "pretty-printed": {"indent": 2},
    "all at once": {
        "upper_ids": True,
        "ints_as_numbers": True,
        "enum_names": True,
        "unknown_fields": True,
    },
}


def assert_same_columns(request: ExportTraceServiceRequest, json_body: bytes) -> None:
    from_pb = decode_protobuf(request.SerializeToString())
    from_json = decode_json(json_body)
    assert len(from_pb) == span_count(request)
    assert (from_pb.rejected, from_json.rejected) == (0, 0)
    for column in COLUMNS:
        assert from_json.columns[column] == from_pb.columns[column], column


@pytest.mark.parametrize("variant", JSON_VARIANTS)
def test_a_job_trace_decodes_to_the_same_columns_from_protobuf_and_json(variant: str) -> None:
    request = job_request()
    assert_same_columns(request, otlp_json(request, **JSON_VARIANTS[variant]))


@pytest.mark.parametrize("variant", ["canonical", "all at once"])
def test_sdk_spans_decode_to_the_same_columns_from_protobuf_and_json(variant: str) -> None:
    request = sdk_request()
    assert_same_columns(request, otlp_json(request, **JSON_VARIANTS[variant]))


def test_the_recorded_json_of_a_request_decodes_to_its_protobuf_columns() -> None:
    # encode.request_to_json is what `audit serve --record` writes and `audit ingest` reads back.
    request = job_request()
    assert_same_columns(request, request_to_json(request.SerializeToString()).encode())


def test_decoded_columns_fit_the_arrow_schema_the_store_inserts() -> None:
    table = decode_protobuf(job_request().SerializeToString()).to_arrow()
    assert table.schema == ARROW_SCHEMA
    assert table.num_rows == 6


def test_sdk_spans_keep_ids_parentage_kinds_status_events_and_links() -> None:
    spans = sdk_spans()
    batch = decode_protobuf(encode_spans(spans).SerializeToString())
    rows = [
        parse_json_columns({c: batch.columns[c][i] for c in COLUMNS}) for i in range(len(batch))
    ]
    assert rows == [sdk_span_row(span) for span in spans]
    by_name = {row["SpanName"]: row for row in rows}
    assert by_name["crm.update"]["Events.Name"] == ["exception"]
    assert by_name["crm.update"]["StatusCode"] == "Error"
    assert by_name["smtp.send"]["SpanKind"] == "Client"
    assert (
        by_name["smtp.send"]["ParentSpanId"]
        == by_name["run/shop.send_order_confirmation"]["SpanId"]
    )
    assert by_name["run/shop.send_order_confirmation"]["Events.Name"] == ["job.done"]
    assert by_name["moveStalledJobsToWait emails"]["Links.SpanId"] == [
        by_name["apply_async/shop.send_order_confirmation"]["SpanId"]
    ]


def test_ids_are_stored_as_lowercase_hex_and_a_root_has_an_empty_parent() -> None:
    batch = decode_protobuf(job_request(7).SerializeToString())
    c = batch.columns
    assert c["TraceId"][0] == trace_id(7).hex() == "4bf92f3577b34da6a3ce929d00000007"
    assert c["SpanId"][0] == span_id(56).hex() == "00f067aa0ba90038"
    assert c["ParentSpanId"][0] == ""  # apply_async is a root
    assert c["ParentSpanId"][1] == c["SpanId"][0]
    for column in ("TraceId", "SpanId", "ParentSpanId"):
        assert all(v == v.lower() for v in c[column])


def test_a_job_trace_keeps_its_job_columns() -> None:
    c = decode_protobuf(job_request(1).SerializeToString()).columns
    assert c["SpanName"][:4] == [
        "apply_async/shop.send_order_confirmation",
        "run/shop.send_order_confirmation",
        "smtp.send",
        "side_effect.confirm",
    ]
    assert c["SpanKind"] == ["Producer", "Consumer", "Client", "Internal", "Client", "Internal"]
    assert c["StatusCode"][4] == "Error"
    assert c["StatusMessage"][4] == "crm timeout"
    assert c["Flags"][:2] == [0x100, 0x300]
    assert c["TraceState"][1] == "rojo=00f067aa0ba902b7"
    assert c["Timestamp"][1] == BASE_NS + 5_000_000
    assert c["Duration"][1] == 85_000_000
    assert c["Events.Name"][1] == ["job.done"]
    assert c["Events.Timestamp"][1] == [BASE_NS + 80_000_000]
    assert json.loads(c["Events.Attributes"][1][0]) == {
        "job.id": "5a1f0c8e-0000-4000-8000-000000000001",
        "job.status": "completed",
        "side_effect.key": "ORD-1001",
    }
    assert json.loads(c["SpanAttributes"][2])["server.port"] == 8025
    assert json.loads(c["ResourceAttributes"][0]) == {
        "service.name": "shop-celery-worker",
        "process.pid": 4242,
        "telemetry.sdk.language": "python",
    }
    assert c["Links.TraceState"][5] == ["rojo=1"]
    assert json.loads(c["Links.Attributes"][5][0]) == {"bullmq.job.id": "3"}


def _one_span_request(**span_fields: object) -> ExportTraceServiceRequest:
    span = Span(
        trace_id=trace_id(1),
        span_id=span_id(1),
        name="s",
        start_time_unix_nano=BASE_NS,
        end_time_unix_nano=BASE_NS + 1,
        **span_fields,  # type: ignore[arg-type]
    )
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    )


def test_an_all_zero_parent_span_id_is_stored_as_a_root_from_both_encodings() -> None:
    # Some SDKs send eight zero bytes for "no parent". The protobuf decoder stores "", and
    # the JSON spelling of the same request must not store "0000000000000000".
    request = _one_span_request(parent_span_id=bytes(8))
    assert decode_protobuf(request.SerializeToString()).columns["ParentSpanId"] == [""]
    assert decode_json(otlp_json(request)).columns["ParentSpanId"] == [""]


def test_repeated_attribute_keys_are_stored_alike_from_both_encodings() -> None:
    # OTLP leaves repeated keys undefined; whatever the store keeps, protobuf and JSON must
    # keep the same thing, or a rule reads 1 from one exporter and 2 from the other.
    request = _one_span_request(attributes=[kv("job.attempt", 1), kv("job.attempt", 2)])
    from_pb = decode_protobuf(request.SerializeToString()).columns["SpanAttributes"]
    from_json = decode_json(otlp_json(request)).columns["SpanAttributes"]
    assert from_json == from_pb
