"""Every OTLP ``AnyValue`` type is stored as ``auditor/otlp/values.py`` says, on spans, events,
links and resources, whichever wire format it came in."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from auditor.otlp.batch import SpanBatch
from auditor.otlp.otlpjson import decode_json
from auditor.otlp.protobuf import decode_protobuf
from tests.unit.otlp.builders import (
    BASE_NS,
    EVERY_VALUE,
    every_value_attributes,
    otlp_json,
    span_id,
    trace_id,
)


def every_value_request() -> ExportTraceServiceRequest:
    attributes = every_value_attributes()
    span = Span(
        trace_id=trace_id(1),
        span_id=span_id(1),
        name="values",
        start_time_unix_nano=BASE_NS,
        end_time_unix_nano=BASE_NS + 1,
        attributes=attributes,
        events=[Span.Event(time_unix_nano=BASE_NS, name="e", attributes=attributes)],
        links=[Span.Link(trace_id=trace_id(2), span_id=span_id(2), attributes=attributes)],
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=attributes),
                scope_spans=[ScopeSpans(spans=[span])],
            )
        ]
    )


def decoded(encoding: str) -> SpanBatch:
    request = every_value_request()
    if encoding == "protobuf":
        return decode_protobuf(request.SerializeToString())
    return decode_json(otlp_json(request))


def same_json_value(actual: Any, expected: Any) -> bool:
    """Equal, and of the same JSON type (``True == 1`` and ``1 == 1.0`` in Python)."""
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same_json_value(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same_json_value(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
@pytest.mark.parametrize(
    "column", ["SpanAttributes", "ResourceAttributes", "Events.Attributes", "Links.Attributes"]
)
@pytest.mark.parametrize("key,given,stored", EVERY_VALUE, ids=[k for k, _, _ in EVERY_VALUE])
def test_each_value_type_is_stored_as_its_natural_json_value(
    encoding: str, column: str, key: str, given: Any, stored: Any
) -> None:
    value = decoded(encoding).columns[column][0]
    text = value[0] if isinstance(value, list) else value
    document = json.loads(text)
    assert key in document
    assert same_json_value(document[key], stored), (key, document[key], stored)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_attribute_text_is_compact_json_in_the_order_received(encoding: str) -> None:
    text = decoded(encoding).columns["SpanAttributes"][0]
    assert list(json.loads(text)) == [k for k, _, _ in EVERY_VALUE]
    assert '"int":8025,' in text
    assert '"double":1.5,' in text
    assert '"double.nan":"NaN",' in text
    assert '"double.inf":"Infinity","double.ninf":"-Infinity"' in text
    assert '"bool.true":true,"bool.false":false' in text
    assert '"bytes":"AAH+/w=="' in text
    assert '"array":["a",1,2.5,true]' in text
    assert '"kvlist":{"queue":"emails","attempt":2}' in text
    assert '"empty":null' in text
    # non-ASCII is escaped, so the text is the same whatever the client's JSON library did
    assert text.isascii()


def test_a_double_that_is_whole_stays_a_double() -> None:
    request = every_value_request()
    request.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.CopyFrom(
        AnyValue(double_value=3.0)
    )
    from_pb = decode_protobuf(request.SerializeToString()).columns["SpanAttributes"][0]
    assert from_pb.startswith('{"string":3.0,')
    # OTLP/JSON may spell a double as a JSON integer, or as a string
    for spelling in ("3", "3.0", '"3"'):
        body = (
            b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"'
            + trace_id(1).hex().encode()
            + b'","spanId":"'
            + span_id(1).hex().encode()
            + b'","attributes":[{"key":"string","value":{"doubleValue":'
            + spelling.encode()
            + b"}}]}]}]}]}"
        )
        assert decode_json(body).columns["SpanAttributes"] == ['{"string":3.0}'], spelling


@pytest.mark.parametrize(
    "value_json,stored",
    [
        ('{"intValue":"8025"}', 8025),
        ('{"intValue":8025}', 8025),
        ('{"intValue":"-9223372036854775808"}', -(2**63)),
        ('{"doubleValue":"NaN"}', "NaN"),
        ('{"doubleValue":"-Infinity"}', "-Infinity"),
        ('{"bytesValue":"AAH+/w=="}', "AAH+/w=="),
        ('{"arrayValue":{}}', []),
        ('{"kvlistValue":{}}', {}),
        ("{}", None),
        ('{"someFutureValue":1}', None),
        ('{"someFutureValue":1,"stringValue":"x"}', "x"),
    ],
)
def test_json_value_spellings_the_spec_allows_are_understood(value_json: str, stored: Any) -> None:
    body = (
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"' + trace_id(1).hex() + '",'
        '"spanId":"' + span_id(1).hex() + '","attributes":[{"key":"k","value":' + value_json + "}]"
        "}]}]}]}"
    )
    batch = decode_json(body.encode())
    assert batch.rejected == 0
    assert same_json_value(json.loads(batch.columns["SpanAttributes"][0])["k"], stored)


@pytest.mark.parametrize(
    "value_json,reason",
    [
        ('{"intValue":"12.5"}', "intValue"),
        ('{"intValue":"9223372036854775808"}', "out of range"),
        ('{"boolValue":"true"}', "boolValue"),
        ('{"stringValue":5}', "stringValue"),
        ('{"doubleValue":"fast"}', "doubleValue"),
        ('"plain"', "attribute value must be an object"),
    ],
)
def test_an_invalid_json_value_rejects_only_its_span(value_json: str, reason: str) -> None:
    good = '{"traceId":"' + trace_id(1).hex() + '","spanId":"' + span_id(1).hex() + '"}'
    bad = (
        '{"name":"bad","traceId":"' + trace_id(1).hex() + '","spanId":"' + span_id(2).hex() + '",'
        '"attributes":[{"key":"k","value":' + value_json + "}]}"
    )
    body = '{"resourceSpans":[{"scopeSpans":[{"spans":[' + good + "," + bad + "]}]}]}"
    batch = decode_json(body.encode())
    assert len(batch) == 1
    assert batch.columns["SpanId"] == [span_id(1).hex()]
    assert batch.rejected == 1
    assert reason in batch.errors[0]
    assert batch.errors[0].startswith("span 'bad': ")


def test_nan_and_infinity_are_strings_so_the_text_is_strict_json() -> None:
    # json.dumps would write bare NaN / Infinity, which are not JSON (DuckDB's JSON type and
    # ClickHouse refuse them)
    def refuse(constant: str) -> None:
        raise AssertionError(f"bare {constant} in stored JSON")

    for encoding in ("protobuf", "json"):
        text = decoded(encoding).columns["SpanAttributes"][0]
        document = json.loads(text, parse_constant=refuse)
        assert math.isnan(float(document["double.nan"]))
        assert float(document["double.ninf"]) == -math.inf
