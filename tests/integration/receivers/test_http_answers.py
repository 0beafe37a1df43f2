"""OTLP/HTTP against a running ``audit serve``: each status code of the receiver's contract, with
the body OTLP says goes with it (``ExportTraceServiceResponse`` on 200, ``google.rpc.Status``
otherwise, in the request's encoding). One server for the module; after SIGTERM its store must
hold every acknowledged span and none of the refused ones (``shared_server``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.integration.receivers.conftest import SMALL_BODY_LIMIT, AuditServer
from tests.integration.receivers.requests import fresh_request, ids_of, with_invalid_spans
from tests.unit.otlp.builders import gzip_bomb, otlp_json

pytestmark = pytest.mark.integration

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


def status_of(response: httpx.Response) -> status_pb2.Status:
    assert response.headers["Content-Type"].startswith("application/x-protobuf")
    return status_pb2.Status.FromString(response.content)


def test_a_protobuf_request_is_answered_200_with_an_empty_export_response(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    response = client.post(shared_server.url, content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    shared_server.expected |= ids_of(request)


def test_a_gzip_protobuf_request_is_accepted(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    response = client.post(
        shared_server.url,
        content=gzip.compress(request.SerializeToString()),
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    shared_server.expected |= ids_of(request)


@pytest.mark.parametrize("variant", [{}, {"upper_ids": True, "enum_names": True, "indent": 2}])
def test_an_otlp_json_request_is_answered_200_in_json(
    shared_server: AuditServer, client: httpx.Client, variant: dict[str, object]
) -> None:
    request = fresh_request()
    response = client.post(
        shared_server.url,
        content=otlp_json(request, **variant),  # type: ignore[arg-type]
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {}
    shared_server.expected |= ids_of(request)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_a_chunked_body_without_content_length_is_accepted(
    shared_server: AuditServer, client: httpx.Client, encoding: str
) -> None:
    # what the Node OTLP exporter sends
    request = fresh_request()
    body = request.SerializeToString() if encoding == "protobuf" else otlp_json(request)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    response = client.post(
        shared_server.url, content=chunks(), headers=PROTOBUF if encoding == "protobuf" else JSON
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200
    shared_server.expected |= ids_of(request)


def test_a_malformed_protobuf_body_is_a_400_with_a_status_giving_the_reason(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    response = client.post(shared_server.url, content=b"\xff\xff\xff\xff", headers=PROTOBUF)
    assert response.status_code == 400
    status = status_of(response)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert status.message.startswith("body is not a valid ExportTraceServiceRequest")


def test_a_truncated_protobuf_body_is_a_400_and_stores_nothing(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    response = client.post(
        shared_server.url, content=request.SerializeToString()[:-9], headers=PROTOBUF
    )
    assert response.status_code == 400
    assert "ExportTraceServiceRequest" in status_of(response).message
    shared_server.forbidden |= ids_of(request)


def test_a_malformed_json_body_is_a_400_with_a_json_status(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    response = client.post(shared_server.url, content=otlp_json(request)[:-3], headers=JSON)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    status = response.json()
    assert status["code"] == code_pb2.INVALID_ARGUMENT
    assert status["message"].startswith("body is not valid JSON")
    shared_server.forbidden |= ids_of(request)


def test_a_json_body_that_is_not_an_otlp_request_is_a_400_saying_where(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    response = client.post(shared_server.url, content=b'{"resourceSpans": {}}', headers=JSON)
    assert response.status_code == 400
    assert response.json()["message"] == "request.resourceSpans must be a list"


def test_a_truncated_gzip_body_is_a_400(shared_server: AuditServer, client: httpx.Client) -> None:
    request = fresh_request()
    body = gzip.compress(request.SerializeToString())
    response = client.post(
        shared_server.url,
        content=body[: len(body) // 2],
        headers={**PROTOBUF, "Content-Encoding": "gzip"},
    )
    assert response.status_code == 400
    assert status_of(response).message == "gzip body is truncated"
    shared_server.forbidden |= ids_of(request)


@pytest.mark.parametrize("content_type", ["text/plain", "application/protobuf", None])
def test_an_unsupported_content_type_is_a_415(
    shared_server: AuditServer, client: httpx.Client, content_type: str | None
) -> None:
    request = fresh_request()
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(shared_server.url, content=request.SerializeToString(), headers=headers)
    assert response.status_code == 415
    status = status_of(response)
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert "unsupported content type" in status.message
    assert "application/x-protobuf or application/json" in status.message
    shared_server.forbidden |= ids_of(request)


def test_an_unsupported_content_encoding_is_a_415(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    response = client.post(
        shared_server.url,
        content=request.SerializeToString(),
        headers={**PROTOBUF, "Content-Encoding": "br"},
    )
    assert response.status_code == 415
    assert status_of(response).message == "unsupported content encoding 'br'; use gzip or none"
    shared_server.forbidden |= ids_of(request)


def test_a_body_over_max_body_size_is_a_413(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    body = b"\x0a" + b"\x00" * SMALL_BODY_LIMIT  # Content-Length says it all
    response = client.post(shared_server.url, content=body, headers=PROTOBUF)
    assert response.status_code == 413
    assert status_of(response).message == f"body is over the {SMALL_BODY_LIMIT} byte limit"


def test_a_chunked_body_over_max_body_size_is_a_413(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(SMALL_BODY_LIMIT // 4096 + 2):
            yield b"\x00" * 4096

    response = client.post(shared_server.url, content=chunks(), headers=PROTOBUF)
    assert response.status_code == 413


def test_a_gzip_bomb_under_the_limit_compressed_is_a_413(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    bomb = gzip_bomb(64)  # 64 MiB of zeros in ~66 KiB
    assert len(bomb) < SMALL_BODY_LIMIT
    response = client.post(
        shared_server.url, content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert status_of(response).message == f"body inflates past the {SMALL_BODY_LIMIT} byte limit"


def test_invalid_spans_are_rejected_alone_in_a_protobuf_partial_success(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    valid = ids_of(request)
    response = client.post(
        shared_server.url,
        content=with_invalid_spans(request).SerializeToString(),
        headers=PROTOBUF,
    )
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 2
    assert answer.partial_success.error_message == (
        "span 'short-trace-id': trace id must be 16 bytes and not all zero; "
        "span 'zero-span-id': span id must be 8 bytes and not all zero"
    )
    shared_server.expected |= valid


def test_invalid_spans_are_rejected_alone_in_a_json_partial_success(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    request = fresh_request()
    valid = ids_of(request)
    document = json.loads(otlp_json(request))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append({**spans[0], "name": "bad-hex", "spanId": "not-hex!"})
    spans.append({**spans[0], "name": "bad-kind", "kind": "SPAN_KIND_SIDEWAYS"})
    response = client.post(shared_server.url, content=json.dumps(document), headers=JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"  # int64: a string in the protobuf JSON mapping
    assert "span 'bad-hex': spanId 'not-hex!' is not hex" in partial["errorMessage"]
    assert "span 'bad-kind': kind 'SPAN_KIND_SIDEWAYS' is not an integer" in partial["errorMessage"]
    shared_server.expected |= valid


def test_healthz_reports_what_was_accepted(
    shared_server: AuditServer, client: httpx.Client
) -> None:
    health = client.get(f"http://127.0.0.1:{shared_server.http_port}/healthz").json()
    assert health["status"] == "ok"
    assert health["spans_stored"] >= len(shared_server.expected)
    assert health["pending_spans"] == 0
