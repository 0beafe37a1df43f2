"""The bodies OTLP answers carry: ``ExportTraceServiceResponse`` and ``google.rpc.Status``.

OTLP/HTTP answers in the encoding of the request (protobuf or JSON); OTLP/gRPC carries the
same messages natively. Pure.
"""

from __future__ import annotations

from google.protobuf import any_pb2, duration_pb2, json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from auditor.receivers.decoding import JSON


def export_response(rejected: int = 0, error_message: str = "") -> ExportTraceServiceResponse:
    response = ExportTraceServiceResponse()
    if rejected or error_message:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=error_message)
        )
    return response


def store_failure(error: BaseException) -> str:
    """What a client is told when the store could not commit its spans (503 / UNAVAILABLE):
    retryable, and why when the reason is one an operator acts on (the disk is full)."""
    if "no space left on device" in str(error).lower():
        return "the store could not commit: no space left on device; retry"
    return "the store could not commit; retry"


def rpc_status(code: int, message: str, retry_after_s: int | None = None) -> status_pb2.Status:
    status = status_pb2.Status(code=code, message=message)
    if retry_after_s is not None:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after_s))
        )
        status.details.append(detail)
    return status


def encode(message: Message, media: str) -> bytes:
    """A protobuf message in the request's encoding."""
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()


INVALID_ARGUMENT = code_pb2.INVALID_ARGUMENT
RESOURCE_EXHAUSTED = code_pb2.RESOURCE_EXHAUSTED
UNAVAILABLE = code_pb2.UNAVAILABLE
UNAUTHENTICATED = code_pb2.UNAUTHENTICATED
