"""The OTLP/JSON rules of the specification, one by one, on hand-written request bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from auditor.otlp.otlpjson import decode_json

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
PARENT = "eee19b7ec3c1b173"


def request(span: dict[str, Any], **document: Any) -> bytes:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}], **document}
    return json.dumps(body).encode()


def base_span(**fields: Any) -> dict[str, Any]:
    return {"traceId": TRACE, "spanId": SPAN, "name": "s", **fields}


def test_hex_ids_are_case_insensitive_and_stored_lowercase() -> None:
    span = base_span(
        traceId=TRACE.upper(),
        spanId="EeE19b7Ec3C1b174",
        parentSpanId=PARENT.upper(),
        links=[{"traceId": TRACE.upper(), "spanId": SPAN.upper()}],
    )
    c = decode_json(request(span)).columns
    assert (c["TraceId"], c["SpanId"], c["ParentSpanId"]) == ([TRACE], [SPAN], [PARENT])
    assert (c["Links.TraceId"], c["Links.SpanId"]) == ([[TRACE]], [[SPAN]])


@pytest.mark.parametrize(
    "start,end,event_time",
    [
        ("1544712660000000000", "1544712661000000000", "1544712660500000000"),
        (1544712660000000000, 1544712661000000000, 1544712660500000000),
        ("1544712660000000000", 1544712661000000000, "1544712660500000000"),
    ],
    ids=["strings", "numbers", "mixed"],
)
def test_64_bit_integers_are_decimal_strings_or_numbers(
    start: Any, end: Any, event_time: Any
) -> None:
    span = base_span(
        startTimeUnixNano=start,
        endTimeUnixNano=end,
        events=[{"timeUnixNano": event_time, "name": "job.done"}],
        attributes=[{"key": "n", "value": {"intValue": start}}],
    )
    c = decode_json(request(span)).columns
    assert c["Timestamp"] == [1544712660000000000]
    assert c["Duration"] == [1_000_000_000]
    assert c["Events.Timestamp"] == [[1544712660500000000]]
    assert json.loads(c["SpanAttributes"][0]) == {"n": 1544712660000000000}


@pytest.mark.parametrize(
    "kind,stored",
    [
        (2, "Server"),
        ("SPAN_KIND_SERVER", "Server"),
        (5, "Consumer"),
        ("SPAN_KIND_CONSUMER", "Consumer"),
        (0, "Unspecified"),
        ("SPAN_KIND_UNSPECIFIED", "Unspecified"),
        (99, "Unspecified"),  # an enum value from a future version is kept as unspecified
    ],
)
def test_span_kind_is_an_integer_or_its_proto_name(kind: Any, stored: str) -> None:
    assert decode_json(request(base_span(kind=kind))).columns["SpanKind"] == [stored]


@pytest.mark.parametrize(
    "code,stored",
    [
        (2, "Error"),
        ("STATUS_CODE_ERROR", "Error"),
        (1, "Ok"),
        ("STATUS_CODE_OK", "Ok"),
        ("STATUS_CODE_UNSET", "Unset"),
    ],
)
def test_status_code_is_an_integer_or_its_proto_name(code: Any, stored: str) -> None:
    span = base_span(status={"code": code, "message": "crm timeout"})
    c = decode_json(request(span)).columns
    assert c["StatusCode"] == [stored]
    assert c["StatusMessage"] == ["crm timeout"]


def test_fields_left_at_their_default_may_be_omitted() -> None:
    c = decode_json(request({"traceId": TRACE, "spanId": SPAN, "status": {}})).columns
    assert c["SpanName"] == [""]
    assert c["SpanKind"] == ["Unspecified"]
    assert c["StatusCode"] == ["Unset"]
    assert c["ParentSpanId"] == [""]
    assert c["SpanAttributes"] == ["{}"]
    assert c["ResourceAttributes"] == ["{}"]
    assert c["ServiceName"] == [""]
    assert c["Events.Name"] == [[]]
    assert c["Links.SpanId"] == [[]]
    assert c["Timestamp"] == [0]
    assert c["Flags"] == [0]


def test_unknown_fields_are_ignored_at_every_level() -> None:
    span = base_span(
        futureSpanField={"a": [1, 2]},
        droppedAttributesCount=3,
        attributes=[{"key": "k", "futureKeyValueField": 1, "value": {"stringValue": "v"}}],
        status={"code": 2, "futureStatusField": True},
        events=[{"name": "e", "timeUnixNano": "5", "futureEventField": None}],
    )
    document = {
        "resourceSpans": [
            {
                "futureResourceSpansField": "x",
                "resource": {"attributes": [], "futureResourceField": 1},
                "scopeSpans": [
                    {
                        "scope": {"name": "shop.jobs", "futureScopeField": 1},
                        "schemaUrl": "https://opentelemetry.io/schemas/1.11.0",
                        "spans": [span],
                    }
                ],
            }
        ],
        "futureRequestField": {"deeply": {"nested": []}},
    }
    batch = decode_json(json.dumps(document).encode())
    assert batch.rejected == 0
    c = batch.columns
    assert c["SpanAttributes"] == ['{"k":"v"}']
    assert c["StatusCode"] == ["Error"]
    assert c["Events.Name"] == [["e"]]
    assert c["ScopeName"] == ["shop.jobs"]


def test_service_name_comes_from_the_resource_attribute() -> None:
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "shop-rq-worker"}}
                    ]
                },
                "scopeSpans": [{"spans": [base_span()]}],
            },
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"intValue": 7}}]},
                "scopeSpans": [{"spans": [base_span(spanId="eee19b7ec3c1b175")]}],
            },
        ]
    }
    c = decode_json(json.dumps(document).encode()).columns
    # a service.name that is not a string is not a service name
    assert c["ServiceName"] == ["shop-rq-worker", ""]


def test_a_request_with_no_spans_is_an_empty_batch() -> None:
    for body in (b"{}", b'{"resourceSpans":[]}', b'{"resourceSpans":[{"scopeSpans":[]}]}'):
        batch = decode_json(body)
        assert len(batch) == 0
        assert batch.rejected == 0
