"""A front-end worker process of ``audit serve``: OTLP/HTTP and OTLP/gRPC, decoding, and
commits through the store process (``hub``).

Every worker accepts on the same HTTP socket (created by the store process and handed over)
and binds the same gRPC port with SO_REUSEPORT, so the kernel spreads connections across
them. The worker ignores SIGINT / SIGTERM: the store process decides when it stops (a
``stop`` message), then it drains — refuses new requests, answers those in flight once
committed — and exits.

The same HTTP application serves the API (``auditor.api``): its requests are forwarded to the
store process as hub calls. The worker checks the bearer token itself, times every request
(HTTP and gRPC), and reports the timings to the store process about once a second, and just
before it forwards a ``/metrics`` request, so that the store process's histogram adds up
every worker's requests.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web

from auditor import logs
from auditor.api import frontend as api_frontend
from auditor.api.metrics import Latencies
from auditor.api.wire import ApiRequest, ApiResponse
from auditor.receivers import grpc as grpc_receiver
from auditor.receivers import http as http_receiver
from auditor.receivers import tls
from auditor.receivers.hub import RemoteCommitter
from auditor.receivers.pipeline import DEFAULT_BODY_TIMEOUT_S, Pipeline

LATENCY_REPORT_S = 1.0


@dataclass(frozen=True)
class WorkerOptions:
    index: int
    grpc_address: str
    token: str = field(repr=False)  # a secret: never in a log line
    body_limit: int
    record: Path | None
    log_level: int
    log_format: str = "text"
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    tls_files: tls.TlsFiles | None = None


def run(options: WorkerOptions, http_socket: socket.socket, conn: Connection) -> None:
    """The worker's entry point (``multiprocessing`` target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(options.log_level, options.log_format)
    asyncio.run(_serve(options, http_socket, conn))


async def _serve(options: WorkerOptions, http_socket: socket.socket, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    committer = RemoteCommitter(conn, loop, stop.set)
    pipeline = Pipeline(
        committer,
        body_limit=options.body_limit,
        body_timeout_s=options.body_timeout_s,
        record_path=options.record,
    )

    async def health() -> dict[str, object]:
        return {**await committer.health(), "worker": options.index}

    latencies = Latencies()

    def report_latencies() -> None:
        deltas = latencies.take()
        if deltas:
            committer.observe(deltas)

    async def forward(request: ApiRequest) -> ApiResponse:
        if request.path == "/metrics":
            report_latencies()  # this worker's requests up to now are in the answer
        answer: ApiResponse = await committer.call("api", request)
        return answer

    async def report_every_second() -> None:
        while True:
            await asyncio.sleep(LATENCY_REPORT_S)
            await loop.run_in_executor(None, report_latencies)

    app = http_receiver.make_app(
        pipeline, health, middlewares=api_frontend.middlewares(options.token, latencies)
    )
    api_frontend.add_routes(app, forward)
    # auto_decompress off: the pipeline inflates gzip itself, within the body limit.
    runner = web.AppRunner(app, auto_decompress=False, access_log=None)
    await runner.setup()
    files = options.tls_files
    await web.SockSite(
        runner,
        http_socket,
        backlog=1024,
        ssl_context=None if files is None else tls.http_context(files),
    ).start()
    grpc_server, _ = grpc_receiver.make_server(
        pipeline,
        options.grpc_address,
        token=options.token,
        observe=latencies.observe,
        credentials=None if files is None else tls.grpc_credentials(files),
    )
    await grpc_server.start()
    reporter = asyncio.ensure_future(report_every_second())
    committer.ready(options.index)

    await stop.wait()
    reporter.cancel()
    grace = asyncio.ensure_future(grpc_server.stop(grace=10))
    await pipeline.drain()
    await grace
    await runner.cleanup()
    pipeline.close()
