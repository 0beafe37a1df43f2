"""``audit serve``: the sidecar process, wiring store, writer, pipeline and both receivers.

Life cycle: open the store (migrating it), start the writer thread and the decode workers,
listen on OTLP/HTTP and OTLP/gRPC, and run until SIGTERM / SIGINT. Stopping drains: stop
accepting, let in-flight requests commit and be answered, commit the queue, close the
store, exit 0. SIGKILL loses nothing acknowledged: every 200 / OK was sent after its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from aiohttp import web

from auditor.engine.catalog import load_catalog
from auditor.engine.loop import EvaluationLoop
from auditor.receivers import grpc as grpc_receiver
from auditor.receivers import http as http_receiver
from auditor.receivers.pipeline import DEFAULT_BODY_LIMIT, Pipeline
from auditor.store.duck import DuckStore
from auditor.store.writer import GroupCommitWriter

log = logging.getLogger("auditor.serve")


@dataclass
class ServeOptions:
    db: Path = Path("auditor.duckdb")
    host: str = "127.0.0.1"
    http_port: int = 4318
    grpc_port: int = 4317
    body_limit: int = DEFAULT_BODY_LIMIT
    decode_workers: int | None = None  # default: one per core
    max_pending_spans: int = 250_000
    record: Path | None = None
    rules: list[Path] = field(default_factory=list)
    evaluation_interval_s: float = 10.0  # 0 turns continuous evaluation off


class Server:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        # Rules load first: a broken rule file stops the start with file:line:col problems.
        catalog = load_catalog(options.rules)
        self.store = DuckStore(options.db)
        self.evaluation = (
            EvaluationLoop(self.store, catalog, options.evaluation_interval_s)
            if options.evaluation_interval_s > 0
            else None
        )
        self.writer = GroupCommitWriter(self.store, max_pending_spans=options.max_pending_spans)
        self.pipeline = Pipeline(
            self.writer,
            body_limit=options.body_limit,
            decode_workers=options.decode_workers,
            record_path=options.record,
        )
        self.started_at = time.time()
        self.http_port = 0
        self.grpc_port = 0
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None

    def health(self) -> dict[str, object]:
        return {
            "store": str(self.options.db),
            "uptime_s": round(time.time() - self.started_at, 1),
            "requests": self.pipeline.requests,
            "spans_accepted": self.pipeline.spans_accepted,
            "spans_rejected": self.pipeline.spans_rejected,
            "spans_stored": self.writer.stored,
            "commits": self.writer.commits,
            "pending_spans": self.writer.pending_spans,
            "evaluation": None if self.evaluation is None else vars(self.evaluation.stats),
        }

    async def start(self) -> None:
        o = self.options
        self.writer.start()
        await self.pipeline.start()
        if self.evaluation is not None:
            self.evaluation.start()
        app = http_receiver.make_app(self.pipeline, self.health)
        # auto_decompress off: the pipeline inflates gzip itself, within the body limit.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, o.host, o.http_port)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server, self.grpc_port = grpc_receiver.make_server(
            self.pipeline, f"{_grpc_host(o.host)}:{o.grpc_port}"
        )
        self._grpc = server
        await server.start()

    async def stop(self) -> None:
        """Drain: refuse new work, answer what is in flight, commit, close."""
        grace = asyncio.ensure_future(self._grpc.stop(grace=10)) if self._grpc else None
        await self.pipeline.drain()
        if grace is not None:
            await grace
        if self._runner is not None:
            await self._runner.cleanup()
        self.writer.stop()
        if self.evaluation is not None:
            self.evaluation.stop()
        self.pipeline.close()
        self.store.checkpoint()
        self.store.close()


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def serve(options: ServeOptions, ready: asyncio.Event | None = None) -> None:
    server = Server(options)
    await server.start()
    log.info(
        "listening: OTLP/HTTP http://%s:%d/v1/traces, OTLP/gRPC %s:%d, store %s",
        options.host, server.http_port, options.host, server.grpc_port, options.db,
    )  # fmt: skip
    print(
        f"audit serve: OTLP/HTTP on http://{options.host}:{server.http_port}/v1/traces, "
        f"OTLP/gRPC on {options.host}:{server.grpc_port}, store {options.db}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    print("audit serve: draining", flush=True)
    await server.stop()
    print(f"audit serve: stopped; {server.writer.stored} spans stored", flush=True)
