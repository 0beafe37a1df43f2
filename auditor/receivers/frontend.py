"""A front-end worker process of ``audit serve``: OTLP/HTTP and OTLP/gRPC, decoding, and
commits through the store process (``hub``).

Every worker accepts on the same HTTP socket (created by the store process and handed over)
and binds the same gRPC port with SO_REUSEPORT, so the kernel spreads connections across
them. The worker ignores SIGINT / SIGTERM: the store process decides when it stops (a
``stop`` message), then it drains — refuses new requests, answers those in flight once
committed — and exits.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from aiohttp import web

from auditor import logs
from auditor.receivers import grpc as grpc_receiver
from auditor.receivers import http as http_receiver
from auditor.receivers.hub import RemoteCommitter
from auditor.receivers.pipeline import Pipeline


@dataclass(frozen=True)
class WorkerOptions:
    index: int
    grpc_address: str
    body_limit: int
    record: Path | None
    log_level: int
    log_format: str = "text"


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
    pipeline = Pipeline(committer, body_limit=options.body_limit, record_path=options.record)

    async def health() -> dict[str, object]:
        return {**await committer.health(), "worker": options.index}

    app = http_receiver.make_app(pipeline, health)
    # auto_decompress off: the pipeline inflates gzip itself, within the body limit.
    runner = web.AppRunner(app, auto_decompress=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, http_socket, backlog=1024).start()
    grpc_server, _ = grpc_receiver.make_server(pipeline, options.grpc_address)
    await grpc_server.start()
    committer.ready(options.index)

    await stop.wait()
    grace = asyncio.ensure_future(grpc_server.stop(grace=10))
    await pipeline.drain()
    await grace
    await runner.cleanup()
    pipeline.close()
