"""Fuzzing the OTLP decoders: whatever a client sends, ``decode_body`` (what both receivers
run) either returns an Arrow table or raises one of the errors the receivers answer with
(``OtlpDecodeError`` → 400 / INVALID_ARGUMENT, ``PayloadTooLarge`` → 413, ``UnsupportedMedia``
→ 415). Anything else would be a 503 for a request that can never succeed, or a dead worker.

Inputs: structured requests (every field, any id length, any time, nested attribute values of
every kind, unknown enum numbers), valid requests mutated byte by byte, raw bytes, OTLP/JSON
documents mutated node by node, and gzip of all of these. Every input that once broke a decoder
is kept under ``tests/data/fuzz/`` and replayed by ``test_fuzz_corpus.py``.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from auditor.otlp.batch import OtlpDecodeError
from auditor.receivers.decoding import (
    JSON,
    PROTOBUF,
    PayloadTooLarge,
    UnsupportedMedia,
    decode_body,
)
from tests.unit.fuzz.strategies import JSON_VALUES, fuzz_settings, mutated, mutated_bytes
from tests.unit.otlp.builders import any_value, job_request, kv, otlp_json

EXPECTED = (OtlpDecodeError, PayloadTooLarge, UnsupportedMedia)
LIMIT = 1 << 20

VALID = job_request(1)
VALID_PB = VALID.SerializeToString()
VALID_JSON = json.loads(otlp_json(VALID))


def decode_or_refuse(body: bytes, media: str, encoding: str | None = None) -> None:
    """Decode ``body`` as a receiver recording its traffic does; only the documented errors
    may come out."""
    try:
        decoded = decode_body(body, media, encoding, LIMIT, record=True)
    except EXPECTED:
        return
    assert decoded.rejected >= 0
    assert decoded.record is not None
    json.loads(decoded.record)  # what `audit serve --record` writes reads back


# ------------------------------------------------------------------------ structured requests

_ID = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
_SPAN_ID = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
_TIME = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=1_700_000_000 * 10**9, max_value=1_800_000_000 * 10**9),
)
_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=8),
    st.binary(max_size=8),
)  # fmt: skip
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_KEY = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["job.id", "side_effect.name", "side_effect.key", "service.name", ""]),
)
_ATTRIBUTES = st.lists(st.builds(kv, _KEY, _VALUE), max_size=4)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    span = Span(
        trace_id=draw(_ID),
        span_id=draw(_SPAN_ID),
        parent_span_id=draw(st.one_of(st.just(b""), _SPAN_ID)),
        trace_state=draw(st.text(max_size=8)),
        name=draw(st.text(max_size=12)),
        kind=draw(st.integers(min_value=-3, max_value=9)),  # open enum: unknown numbers too
        start_time_unix_nano=draw(_TIME),
        end_time_unix_nano=draw(_TIME),
        attributes=draw(_ATTRIBUTES),
        status=Status(code=draw(st.integers(-1, 5)), message=draw(st.text(max_size=8))),
        dropped_attributes_count=draw(st.integers(0, 2**32 - 1)),
    )
    for _ in range(draw(st.integers(0, 2))):
        span.events.add(
            time_unix_nano=draw(_TIME), name=draw(st.text(max_size=8)), attributes=draw(_ATTRIBUTES)
        )
    for _ in range(draw(st.integers(0, 2))):
        span.links.add(
            trace_id=draw(_ID), span_id=draw(_SPAN_ID), attributes=draw(_ATTRIBUTES),
            trace_state=draw(st.text(max_size=4)), flags=draw(st.integers(0, 2**32 - 1)),
        )  # fmt: skip
    return span


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    resource_spans = []
    for _ in range(draw(st.integers(0, 2))):
        scopes = [
            ScopeSpans(
                scope=InstrumentationScope(
                    name=draw(st.text(max_size=8)),
                    version=draw(st.text(max_size=4)),
                    attributes=draw(_ATTRIBUTES),
                ),
                spans=draw(st.lists(spans(), max_size=3)),
                schema_url=draw(st.text(max_size=4)),
            )
            for _ in range(draw(st.integers(0, 2)))
        ]
        resource_spans.append(
            ResourceSpans(resource=Resource(attributes=draw(_ATTRIBUTES)), scope_spans=scopes)
        )
    return ExportTraceServiceRequest(resource_spans=resource_spans)


@fuzz_settings
@given(requests())
def test_any_structured_request_decodes_or_is_refused_with_a_documented_error(
    request: ExportTraceServiceRequest,
) -> None:
    decode_or_refuse(request.SerializeToString(), PROTOBUF)


@fuzz_settings
@given(requests())
def test_the_json_form_of_any_structured_request_decodes_or_is_refused(
    request: ExportTraceServiceRequest,
) -> None:
    decode_or_refuse(otlp_json(request), JSON)


# --------------------------------------------------------------------------- mutated requests


@fuzz_settings
@given(mutated_bytes(VALID_PB))
def test_a_valid_protobuf_request_mutated_byte_by_byte(body: bytes) -> None:
    decode_or_refuse(body, PROTOBUF)


@fuzz_settings
@given(mutated(VALID_JSON, JSON_VALUES))
def test_a_valid_json_request_mutated_node_by_node(document: Any) -> None:
    decode_or_refuse(json.dumps(document).encode(), JSON)


@fuzz_settings
@given(mutated_bytes(otlp_json(VALID)))
def test_a_valid_json_request_mutated_byte_by_byte(body: bytes) -> None:
    decode_or_refuse(body, JSON)


@fuzz_settings
@given(st.binary(max_size=512), st.sampled_from([PROTOBUF, JSON]))
def test_raw_bytes(body: bytes, media: str) -> None:
    decode_or_refuse(body, media)


@fuzz_settings
@given(
    st.one_of(mutated_bytes(gzip.compress(VALID_PB)), st.binary(max_size=256)),
    st.sampled_from(["gzip", "x-gzip", "GZIP", "deflate", "br", " gzip ", ""]),
    st.sampled_from([PROTOBUF, JSON]),
)
def test_gzip_bodies_mutated_and_raw(body: bytes, encoding: str, media: str) -> None:
    decode_or_refuse(body, media, encoding)


@pytest.mark.parametrize("media", [PROTOBUF, JSON])
def test_a_valid_request_is_accepted_whole(media: str) -> None:
    # The property above would also hold for a decoder that refused everything.
    body = VALID_PB if media == PROTOBUF else otlp_json(VALID)
    decoded = decode_body(body, media, None, LIMIT, True)
    assert decoded.table.num_rows == 6
    assert decoded.rejected == 0


def test_any_value_helper_covers_every_kind() -> None:
    assert any_value(b"x").WhichOneof("value") == "bytes_value"
