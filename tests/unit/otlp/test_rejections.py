"""Partial success: a span that cannot be stored is rejected alone, with its reason (what OTLP
answers as ``partial_success``); a body that is not an OTLP request is refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from auditor.otlp.batch import OtlpDecodeError
from auditor.otlp.otlpjson import decode_json
from auditor.otlp.protobuf import decode_protobuf
from tests.unit.otlp.builders import BASE_NS, job_request, span_id, trace_id


def pb_request(*spans: Span) -> bytes:
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=list(spans))])]
    ).SerializeToString()


def pb_span(name: str, **fields: Any) -> Span:
    values: dict[str, Any] = {
        "trace_id": trace_id(1),
        "span_id": span_id(1),
        "name": name,
        "start_time_unix_nano": BASE_NS,
        "end_time_unix_nano": BASE_NS + 10,
    }
    values.update(fields)
    return Span(**values)


PROTOBUF_BAD_SPANS = {
    "short trace id": ({"trace_id": bytes(range(1, 9))}, "trace id must be 16 bytes"),
    "zero trace id": ({"trace_id": bytes(16)}, "trace id must be 16 bytes and not all zero"),
    "missing span id": ({"span_id": b""}, "span id must be 8 bytes"),
    "zero span id": ({"span_id": bytes(8)}, "span id must be 8 bytes and not all zero"),
    "long parent id": ({"parent_span_id": bytes(range(1, 17))}, "parent span id"),
    "start past 2262": ({"start_time_unix_nano": 2**63}, "timestamp out of range"),
}


@pytest.mark.parametrize("case", PROTOBUF_BAD_SPANS)
def test_an_invalid_protobuf_span_is_rejected_alone_with_its_reason(case: str) -> None:
    fields, reason = PROTOBUF_BAD_SPANS[case]
    body = pb_request(
        pb_span("good-1", span_id=span_id(1)),
        pb_span("bad", **fields),
        pb_span("good-2", span_id=span_id(2)),
    )
    batch = decode_protobuf(body)
    assert batch.columns["SpanName"] == ["good-1", "good-2"]
    assert batch.rejected == 1
    assert batch.errors == [f"span 'bad': {batch.errors[0].split(': ', 1)[1]}"]
    assert reason in batch.errors[0]
    assert batch.error_message() == batch.errors[0]


def json_span(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": trace_id(1).hex(),
        "spanId": span_id(1).hex(),
        "name": name,
        "startTimeUnixNano": str(BASE_NS),
        "endTimeUnixNano": str(BASE_NS + 10),
        **fields,
    }


JSON_BAD_SPANS = {
    "short trace id": ({"traceId": "5b8efff798038103"}, "trace id must be 16 bytes"),
    "zero span id": ({"spanId": "0000000000000000"}, "span id must be 8 bytes and not all zero"),
    "missing span id": ({"spanId": None}, "span id must be 8 bytes"),
    "bad hex": ({"traceId": "zz8efff798038103d269b633813fc60c"}, "is not hex"),
    "odd-length hex": ({"spanId": "eee19b7ec3c1b17"}, "is not hex"),
    "id not a string": ({"spanId": 12345}, "must be a hex string"),
    "bad parent": ({"parentSpanId": "eee1"}, "parent span id"),
    "bad timestamp": ({"startTimeUnixNano": "yesterday"}, "startTimeUnixNano"),
    "negative timestamp": ({"endTimeUnixNano": "-1"}, "out of range"),
    "bad kind": ({"kind": "SPAN_KIND_SIDEWAYS"}, "kind"),
    "status not an object": ({"status": "ERROR"}, "status must be an object"),
    "bad event": ({"events": ["job.done"]}, "each event must be an object"),
    "bad link id": ({"links": [{"traceId": "xyz", "spanId": "00"}]}, "not hex"),
}


@pytest.mark.parametrize("case", JSON_BAD_SPANS)
def test_an_invalid_json_span_is_rejected_alone_with_its_reason(case: str) -> None:
    fields, reason = JSON_BAD_SPANS[case]
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            json_span("good-1", spanId=span_id(1).hex()),
                            json_span("bad", **fields),
                            json_span("good-2", spanId=span_id(2).hex()),
                        ]
                    }
                ]
            }
        ]
    }
    batch = decode_json(json.dumps(body).encode())
    assert batch.columns["SpanName"] == ["good-1", "good-2"]
    assert batch.rejected == 1
    assert batch.errors[0].startswith("span 'bad': ")
    assert reason in batch.errors[0]


def test_rejections_are_counted_in_full_but_explained_in_at_most_ten_reasons() -> None:
    bad = [pb_span(f"bad-{i}", span_id=bytes(8)) for i in range(25)]
    batch = decode_protobuf(pb_request(pb_span("good"), *bad))
    assert len(batch) == 1
    assert batch.rejected == 25
    assert len(batch.errors) == 10
    assert batch.error_message().endswith(" (and 15 more)")


UNDECODABLE_PROTOBUF = {
    "garbage": b"\xff\xff\xff\xff",
    "truncated": job_request().SerializeToString()[:-7],
    "json sent as protobuf": b'{"resourceSpans": []}',
    "span name not utf-8": pb_request(pb_span("ok")).replace(b"ok", b"\xff\xfe"),
}


@pytest.mark.parametrize("case", UNDECODABLE_PROTOBUF)
def test_an_undecodable_protobuf_body_raises_otlp_decode_error(case: str) -> None:
    with pytest.raises(OtlpDecodeError, match="not a valid ExportTraceServiceRequest"):
        decode_protobuf(UNDECODABLE_PROTOBUF[case])


def test_an_attribute_that_is_not_utf_8_fails_the_protobuf_request() -> None:
    # attributes are parsed lazily (raw bytes in the shadow message), so they are checked too
    body = job_request().SerializeToString().replace(b"ORD-1001", b"ORD-\xff\xfe01")
    with pytest.raises(OtlpDecodeError):
        decode_protobuf(body)


UNDECODABLE_JSON = {
    "not json": (b"resourceSpans", "not valid JSON"),
    "truncated": (b'{"resourceSpans": [', "not valid JSON"),
    "not utf-8": (b'{"resourceSpans": "\xff"}', "not valid JSON"),
    "protobuf sent as json": (job_request().SerializeToString(), "not valid JSON"),
    "a list": (b"[]", "must be an object"),
    "resourceSpans not a list": (b'{"resourceSpans": {}}', "resourceSpans must be a list"),
    "scopeSpans not a list": (
        b'{"resourceSpans": [{"scopeSpans": 1}]}',
        "resourceSpans[0].scopeSpans must be a list",
    ),
    "span not an object": (
        b'{"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]}',
        "resourceSpans[0].scopeSpans[0].spans[0] must be an object",
    ),
    "bad resource attribute": (
        b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": 1}]}}]}',
        "resourceSpans[0].resource.attributes",
    ),
}


@pytest.mark.parametrize("case", UNDECODABLE_JSON)
def test_an_undecodable_json_body_raises_otlp_decode_error_saying_where(case: str) -> None:
    body, message = UNDECODABLE_JSON[case]
    with pytest.raises(OtlpDecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_json(body)


def test_an_empty_protobuf_body_is_an_empty_request() -> None:
    # proto3: zero bytes is a valid message with every field at its default
    batch = decode_protobuf(b"")
    assert (len(batch), batch.rejected) == (0, 0)
