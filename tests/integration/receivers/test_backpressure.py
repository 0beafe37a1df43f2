"""Backpressure: when the write queue is full, OTLP/HTTP answers 429 with Retry-After and
OTLP/GRPC RESOURCE_EXHAUSTED with RetryInfo, nothing of the refused request is stored, and the
official exporters retry until it is.

Most tests wire the real receivers, pipeline, writer and store in-process, the way
``auditor.server.Server`` does, with ``max_pending_spans=1`` and a writer that is started only
when the test says so: the first request then stays pending and every other one is refused,
deterministically. The last one runs ``audit serve --max-pending-spans 1`` with concurrent
clients that retry until stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import pytest
from aiohttp import web
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from auditor.receivers import grpc as grpc_receiver
from auditor.receivers import http as http_receiver
from auditor.receivers.pipeline import LocalCommitter, Pipeline
from auditor.store.duck import DuckStore
from auditor.store.writer import GroupCommitWriter
from tests.integration.receivers.requests import fresh_request
from tests.unit.otlp.builders import sdk_spans

pytestmark = pytest.mark.integration

PROTOBUF = {"Content-Type": "application/x-protobuf"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass
class Receivers:
    store: DuckStore
    writer: GroupCommitWriter
    pipeline: Pipeline
    http_port: int
    grpc_port: int
    http_statuses: list[int] = field(default_factory=list)
    grpc_codes: list[grpc.StatusCode] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    async def until(self, condition: Callable[[], bool]) -> None:
        for _ in range(1000):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")


@asynccontextmanager
async def receivers(tmp_path: Path, **pipeline_options: int) -> AsyncIterator[Receivers]:
    store = DuckStore(tmp_path / "auditor.duckdb")
    writer = GroupCommitWriter(store, max_pending_spans=1)  # started by the test
    pipeline = Pipeline(LocalCommitter(writer), **pipeline_options)
    app = http_receiver.make_app(pipeline)
    statuses: list[int] = []

    @web.middleware
    async def observe(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        statuses.append(response.status)
        return response

    app.middlewares.append(observe)
    runner = web.AppRunner(app, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    grpc_server, grpc_port = grpc_receiver.make_server(pipeline, "127.0.0.1:0")
    await grpc_server.start()
    r = Receivers(store, writer, pipeline, http_port, grpc_port, http_statuses=statuses)
    try:
        yield r
    finally:
        if not writer._thread.is_alive():
            writer.start()
        await pipeline.drain()
        await grpc_server.stop(grace=5)
        await runner.cleanup()
        writer.stop()
        pipeline.close()
        store.close()


def retry_info(status: status_pb2.Status) -> error_details_pb2.RetryInfo:
    (detail,) = status.details
    info = error_details_pb2.RetryInfo()
    assert detail.Unpack(info)
    return info


def stored_span_ids(tmp_path: Path) -> set[str]:
    with DuckStore(tmp_path / "auditor.duckdb", read_only=True) as store:
        return {r[0] for r in store.con.execute('SELECT "SpanId" FROM otel_traces').fetchall()}


def test_a_full_queue_answers_429_with_retry_after_and_resource_exhausted_with_retry_info(
    tmp_path: Path,
) -> None:
    pending, refused_http, refused_grpc = fresh_request(), fresh_request(), fresh_request()

    async def scenario() -> None:
        async with receivers(tmp_path) as r, httpx.AsyncClient(timeout=30) as client:
            first = asyncio.create_task(
                client.post(r.url, content=pending.SerializeToString(), headers=PROTOBUF)
            )
            await r.until(lambda: r.writer.pending_spans > 0)

            response = await client.post(
                r.url, content=refused_http.SerializeToString(), headers=PROTOBUF
            )
            assert response.status_code == 429
            assert response.headers["Retry-After"] == "1"
            status = status_pb2.Status.FromString(response.content)
            assert status.code == code_pb2.RESOURCE_EXHAUSTED
            assert status.message == "overloaded: 6 spans are waiting to be committed"
            assert retry_info(status).retry_delay == duration_pb2.Duration(seconds=1)

            async with grpc.aio.insecure_channel(f"127.0.0.1:{r.grpc_port}") as channel:
                export = channel.unary_unary(EXPORT)
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await export(refused_grpc.SerializeToString(), timeout=30)
            error = raised.value
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error.details() == "overloaded: 6 spans are waiting to be committed"
            details = dict(error.trailing_metadata())["grpc-status-details-bin"]  # type: ignore[arg-type]
            status = status_pb2.Status.FromString(details)
            assert retry_info(status).retry_delay == duration_pb2.Duration(seconds=1)

            assert not first.done()  # acknowledged only after its commit
            r.writer.start()
            assert (await first).status_code == 200

    asyncio.run(scenario())
    assert stored_span_ids(tmp_path) == {
        s.span_id.hex() for s in pending.resource_spans[0].scope_spans[0].spans
    }


def test_too_many_requests_in_flight_are_answered_429(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with receivers(tmp_path, max_inflight=1) as r, httpx.AsyncClient() as client:
            first = asyncio.create_task(
                client.post(r.url, content=fresh_request().SerializeToString(), headers=PROTOBUF)
            )
            await r.until(lambda: r.writer.pending_spans > 0)
            response = await client.post(
                r.url, content=fresh_request().SerializeToString(), headers=PROTOBUF
            )
            assert response.status_code == 429
            status = status_pb2.Status.FromString(response.content)
            assert status.message == "overloaded: 1 requests are already being processed"
            r.writer.start()
            assert (await first).status_code == 200

    asyncio.run(scenario())


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_the_official_exporters_retry_a_full_queue_until_their_spans_are_stored(
    tmp_path: Path, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    spans = sdk_spans(f"shop-{transport}")
    outcome: list[SpanExportResult] = []

    def refused() -> bool:
        if transport == "http":
            return 429 in r.http_statuses
        # the gRPC exporter says so when it backs off
        return any(
            "Transient error StatusCode.RESOURCE_EXHAUSTED" in record.getMessage()
            for record in caplog.records
        )

    async def scenario() -> None:
        nonlocal r
        async with receivers(tmp_path) as r, httpx.AsyncClient() as client:
            # occupy the queue
            first = asyncio.create_task(
                client.post(r.url, content=fresh_request().SerializeToString(), headers=PROTOBUF)
            )
            await r.until(lambda: r.writer.pending_spans > 0)
            exporter = (
                HttpSpanExporter(endpoint=r.url, timeout=20)
                if transport == "http"
                else GrpcSpanExporter(
                    endpoint=f"127.0.0.1:{r.grpc_port}", insecure=True, timeout=20
                )
            )
            export = asyncio.create_task(asyncio.to_thread(exporter.export, spans))
            await r.until(refused)  # the exporter was told to come back later…
            assert not export.done()  # …and is waiting to
            r.writer.start()
            outcome.append(await export)
            assert (await first).status_code == 200
            exporter.shutdown()

    r: Receivers
    with caplog.at_level("WARNING"):
        asyncio.run(scenario())
    assert outcome == [SpanExportResult.SUCCESS]
    assert {f"{s.get_span_context().span_id:016x}" for s in spans} <= stored_span_ids(tmp_path)


def test_audit_serve_with_a_tiny_queue_answers_429_and_stores_every_retried_request(
    tmp_path: Path,
) -> None:
    # The real server, `--max-pending-spans 1`: a request is refused whenever another one
    # is waiting for its commit. Concurrent clients retry on 429 / RESOURCE_EXHAUSTED, as the
    # exporters do; in the end every request is stored, once.
    from concurrent.futures import ThreadPoolExecutor

    from tests.integration.receivers.conftest import start_server, stop_cleanly
    from tests.integration.receivers.requests import ids_of
    from tests.integration.receivers.test_crash import big_request

    server = start_server(tmp_path, "--max-pending-spans", "1")
    requests = [big_request() for _ in range(24)]
    answers: list[tuple[str, object]] = []

    def send_http(body: bytes) -> None:
        with httpx.Client(timeout=30) as client:
            while True:
                response = client.post(server.url, content=body, headers=PROTOBUF)
                answers.append(("http", response.status_code))
                if response.status_code != 429:
                    assert response.status_code == 200
                    return
                assert response.headers["Retry-After"] == "1"

    def send_grpc(body: bytes) -> None:
        with grpc.insecure_channel(server.grpc_target) as channel:
            export = channel.unary_unary(EXPORT)
            while True:
                try:
                    export(body, timeout=30)
                except grpc.RpcError as error:
                    answers.append(("grpc", error.code()))  # type: ignore[attr-defined]
                    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
                    continue
                answers.append(("grpc", grpc.StatusCode.OK))
                return

    try:
        with ThreadPoolExecutor(len(requests)) as pool:
            futures = [
                pool.submit(send_http if i % 2 else send_grpc, r.SerializeToString())
                for i, r in enumerate(requests)
            ]
            for f in futures:
                f.result(timeout=120)
    finally:
        stop_cleanly(server)
    assert ("http", 429) in answers
    assert ("grpc", grpc.StatusCode.RESOURCE_EXHAUSTED) in answers
    stored = server.stored_ids()
    assert len(stored) == len(set(stored))
    assert set(stored) == set().union(*(ids_of(r) for r in requests))
