"""OTLP/gRPC against a running ``audit serve``, through a raw channel (identity serializers), so
that the tests can send bytes no exporter would: status codes and their ``google.rpc.Status``
details, partial success, gzip."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.integration.receivers.conftest import AuditServer
from tests.integration.receivers.requests import fresh_request, ids_of, with_invalid_spans

pytestmark = pytest.mark.integration

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture(scope="module")
def channel(shared_server: AuditServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(shared_server.grpc_target) as ch:
        yield ch


def export(channel: grpc.Channel, body: bytes, **kwargs: object) -> bytes:
    call = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
    return call(body, timeout=30, **kwargs)  # type: ignore[no-any-return]


def test_garbage_bytes_are_invalid_argument_with_the_reason(
    shared_server: AuditServer, channel: grpc.Channel
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        export(channel, b"\xff\xff\xff\xff")
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert error.details().startswith(  # type: ignore[attr-defined]
        "body is not a valid ExportTraceServiceRequest"
    )
    details = dict(error.trailing_metadata())["grpc-status-details-bin"]  # type: ignore[attr-defined]
    status = status_pb2.Status.FromString(details)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert status.message == error.details()  # type: ignore[attr-defined]


def test_a_request_is_answered_ok_after_commit(
    shared_server: AuditServer, channel: grpc.Channel
) -> None:
    request = fresh_request()
    answer = ExportTraceServiceResponse.FromString(export(channel, request.SerializeToString()))
    assert not answer.HasField("partial_success")
    shared_server.expected |= ids_of(request)


def test_a_gzip_request_is_accepted(shared_server: AuditServer, channel: grpc.Channel) -> None:
    request = fresh_request()
    export(channel, request.SerializeToString(), compression=grpc.Compression.Gzip)
    shared_server.expected |= ids_of(request)


def test_invalid_spans_are_rejected_alone_in_a_partial_success(
    shared_server: AuditServer, channel: grpc.Channel
) -> None:
    request = fresh_request()
    valid = ids_of(request)
    answer = ExportTraceServiceResponse.FromString(
        export(channel, with_invalid_spans(request).SerializeToString())
    )
    assert answer.partial_success.rejected_spans == 2
    assert "span 'zero-span-id': span id must be 8 bytes" in answer.partial_success.error_message
    shared_server.expected |= valid


def test_a_message_over_max_body_size_is_resource_exhausted(
    shared_server: AuditServer, channel: grpc.Channel
) -> None:
    from tests.integration.receivers.conftest import SMALL_BODY_LIMIT

    request = fresh_request()
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].name = "x" * SMALL_BODY_LIMIT
    with pytest.raises(grpc.RpcError) as raised:
        export(channel, request.SerializeToString())
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    shared_server.forbidden |= ids_of(request)
