"""OTLP/gRPC receiver: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

The method is registered with no request deserializer, so the raw request bytes go to the
decode workers untouched (parsing them here would spend the event loop's core). Status codes:
OK after commit (with ``partial_success`` for rejected spans), INVALID_ARGUMENT for an
undecodable request, RESOURCE_EXHAUSTED with ``RetryInfo`` when the write queue is full
(the OTLP exporters retry it), UNAVAILABLE while shutting down or when the store failed,
UNAUTHENTICATED when a token is configured and the ``authorization`` metadata does not carry
it as ``Bearer <token>``. gRPC itself handles gzip and enforces the message size limit.
``observe`` (when given) is told each call's status code and time to answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from auditor.api.frontend import authorized
from auditor.otlp.batch import OtlpDecodeError
from auditor.receivers import answers
from auditor.receivers.decoding import PROTOBUF, PayloadTooLarge
from auditor.receivers.pipeline import Pipeline, ShuttingDown
from auditor.store.writer import Overloaded

log = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
ENDPOINT = f"{SERVICE}/Export"
RETRY_AFTER_S = 1


def _details(status: Any, retry: Any = None) -> tuple[tuple[str, bytes], ...]:
    """Trailers: the google.rpc.Status (the gRPC convention), and RetryInfo on its own as
    ``google.rpc.retryinfo-bin``, which is where the OTLP exporters look for the delay."""
    trailers = [("grpc-status-details-bin", status.SerializeToString())]
    if retry is not None:
        trailers.append(("google.rpc.retryinfo-bin", retry.SerializeToString()))
    return tuple(trailers)


Observe = Callable[[str, str, str, float], None]  # protocol, endpoint, code, seconds


def _bearer(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def make_server(
    pipeline: Pipeline,
    address: str,
    *,
    token: str = "",
    observe: Observe | None = None,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.aio.Server, int]:
    """A gRPC server bound to ``address`` (host:port; port 0 picks one), speaking TLS when
    given ``credentials``. Returns (server, port)."""

    async def export(
        request: bytes, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        started = time.perf_counter()
        try:
            return await _export(request, context)
        finally:
            if observe is not None:
                code = context.code() if hasattr(context, "code") else None
                name = code.name if isinstance(code, grpc.StatusCode) else "OK"
                observe("grpc", ENDPOINT, name, time.perf_counter() - started)

    async def _export(
        request: bytes, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        if token and not authorized(_bearer(context), token):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            result = await pipeline.export(request, PROTOBUF, None)
        except OtlpDecodeError as exc:
            status = answers.rpc_status(answers.INVALID_ARGUMENT, str(exc))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc), _details(status))
        except PayloadTooLarge as exc:
            status = answers.rpc_status(answers.RESOURCE_EXHAUSTED, str(exc))
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), _details(status))
        except Overloaded as exc:
            message = f"overloaded: {exc}"
            status = answers.rpc_status(answers.RESOURCE_EXHAUSTED, message, RETRY_AFTER_S)
            retry = error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=RETRY_AFTER_S)
            )
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, message, _details(status, retry)
            )
        except ShuttingDown as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except Exception as exc:
            log.error("export failed: %s", exc)  # the store's process logged the cause
            await context.abort(grpc.StatusCode.UNAVAILABLE, answers.store_failure(exc))
        return answers.export_response(result.rejected, result.error_message)

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Export": grpc.unary_unary_rpc_method_handler(
                export,
                request_deserializer=None,
                response_serializer=ExportTraceServiceResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", pipeline.body_limit),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
        maximum_concurrent_rpcs=pipeline.max_inflight * 2,
    )
    server.add_generic_rpc_handlers((handler,))
    port = (
        server.add_insecure_port(address)
        if credentials is None
        else server.add_secure_port(address, credentials)
    )
    if port == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}")
    return server, port
