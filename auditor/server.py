"""``audit serve``: the sidecar, wiring store, writer, receivers and continuous evaluation.

Process layout (the default, one front-end worker per core)::

    store process ── DuckDB store, group-commit writer thread, evaluation loop, hub
       │  pipes: Arrow tables in, "committed" out (receivers/hub.py)
       ├── front-end worker 1: OTLP/HTTP + OTLP/gRPC, decoding (receivers/frontend.py)
       └── front-end worker 2: …         (same HTTP socket, same gRPC port)

Decoding OTLP is pure-Python CPU work; in worker processes it uses every core and never
competes with the DuckDB writer for one interpreter lock. ``--decode-workers 0`` runs the
receivers inside the store process instead (one process, for small setups and tests).

The OTLP/HTTP port also serves the API (``auditor.api``: ``/api/v1/…``, ``/openapi.json``,
``/metrics``, ``/readyz``). Its requests are answered in the store process, by
``api.service.ApiService`` on a thread pool of their own (each on its own DuckDB cursor):
forwarded over the hub by the front-end workers, or directly with ``--decode-workers 0``.
With a token (``--token``), the API, ``/metrics`` and both OTLP receivers require it; with a
certificate and key (``--tls-cert``, ``--tls-key``) both ports speak TLS only
(``receivers/tls.py``).

Everything it is configured with is one ``auditor.config.Settings`` (defaults, ``audit.yaml``,
``AUDIT_*``, flags); nothing here has a default of its own.

Life cycle: load the rules (a broken rule file stops the start), open the store (migrating
it), start the writer, the evaluation loop and the receivers, and run until SIGTERM /
SIGINT. Stopping drains: receivers stop accepting and answer what is in flight once it is
committed, the writer commits its queue, the store closes, exit 0. SIGKILL loses nothing
acknowledged: every 200 / OK was sent after its commit; workers exit when the store process
is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from aiohttp import web

from auditor.alerts import Alerting
from auditor.api import frontend as api_frontend
from auditor.api import queries
from auditor.api.metrics import Latencies
from auditor.api.service import AlertStats, ApiService
from auditor.api.wire import ApiRequest, ApiResponse
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.config import Settings
from auditor.engine.catalog import load_catalog
from auditor.engine.loop import EvaluationLoop
from auditor.engine.scan import rule_infos
from auditor.errors import UsageError
from auditor.receivers import frontend, tls
from auditor.receivers import grpc as grpc_receiver
from auditor.receivers import http as http_receiver
from auditor.receivers.hub import Hub
from auditor.receivers.pipeline import LocalCommitter, Pipeline
from auditor.store.duck import DuckStore
from auditor.store.writer import GroupCommitWriter

log = logging.getLogger("auditor.serve")

WORKER_START_TIMEOUT_S = 60
API_THREADS = 4  # API requests answered at once (each on a DuckDB cursor of its own)


def _grpc_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _free_port(host: str, port: int) -> int:
    """``port`` if nobody listens on it (0: any free one). Bound once without SO_REUSEPORT so
    that two servers never silently share a gRPC port."""
    with _listen(host, port) as probe:
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> None:
        self.settings = settings
        self.clock = clock
        # Rules load first: a broken rule file stops the start with file:line:col problems.
        catalog = load_catalog(settings.rules)
        self.catalog = catalog
        # TLS files load before anything opens or listens: a bad pair stops the start.
        self.tls = tls.pair(settings.tls_cert, settings.tls_key)
        tls.check(self.tls)
        self.store = DuckStore(settings.store, clock=clock)
        self.writer = GroupCommitWriter(self.store, max_pending_spans=settings.max_pending_spans)
        # Alerts: findings that open or resolve go to the outbox in the store; a dispatcher
        # thread per sink delivers them (retried while a sink is down, resumed on restart).
        self.alerting = (
            Alerting(self.store.cursor, settings.alerts, clock, rules=rule_infos(catalog))
            if settings.alerts
            else None
        )
        self.evaluation = (
            EvaluationLoop(
                self.store,
                catalog,
                settings.evaluation_interval_s,
                settings.grace_s,
                clock=clock,
                retention_s=settings.retention_s,
                on_change=None if self.alerting is None else self.alerting.on_change,
            )
            if settings.evaluation_interval_s > 0
            else None
        )
        workers = settings.decode_workers
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.started_at_ns = clock.now_ns()
        self.http_port = 0
        self.grpc_port = 0
        self.hub: Hub | None = None
        self.pipeline: Pipeline | None = None  # in-process mode only
        self._local: LocalCommitter | None = None
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None
        self.latencies = Latencies()  # every process's request timings, added up here
        self.api = ApiService(self)
        self.api_executor = ThreadPoolExecutor(API_THREADS, thread_name_prefix="auditor-api")
        self._ready = False
        self._stopping = False

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        counts: dict[str, int] = {"requests": 0, "spans_accepted": 0, "spans_rejected": 0}
        if self.hub is not None:
            counts = {
                "requests": self.hub.requests,
                "spans_accepted": self.hub.spans_accepted,
                "spans_rejected": self.hub.spans_rejected,
            }
        elif self.pipeline is not None:
            counts = {
                "requests": self.pipeline.requests,
                "spans_accepted": self.pipeline.spans_accepted,
                "spans_rejected": self.pipeline.spans_rejected,
            }
        return {
            "store": str(self.settings.store),
            "uptime_s": round((self.clock.now_ns() - self.started_at_ns) / 1e9, 1),
            **counts,
            "spans_stored": self.writer.stored,
            "spans_deduplicated": self.writer.received - self.writer.stored,
            "commits": self.writer.commits,
            "pending_spans": self.writer.pending_spans,
            "workers": self.workers,
            "evaluation": None if self.evaluation is None else vars(self.evaluation.stats),
            "alerts": None if self.alerting is None else self.alerting.stats(),
        }

    def readiness(self) -> tuple[bool, str]:
        """Ready once the store is open and the first evaluation ran (or had nothing to
        evaluate); once ready, ready until draining."""
        if self._stopping:
            return False, "draining"
        if self._ready or self.evaluation is None or self.evaluation.stats.passes > 0:
            self._ready = True
            return True, ""
        con = self.store.cursor()
        try:
            waiting = queries.unevaluated_since(con, self.evaluation.stats.last_batch)
        finally:
            con.close()
        if waiting is None:  # nothing committed yet: nothing to evaluate
            self._ready = True
            return True, ""
        return False, "the first evaluation of the store has not run yet"

    def evaluation_stats(self) -> dict[str, Any] | None:
        """The evaluation loop's numbers, and ``waiting_s``: how long the oldest commit no
        evaluation has seen yet has waited (0 when every commit was evaluated)."""
        if self.evaluation is None:
            return None
        stats = dict(vars(self.evaluation.stats))
        con = self.store.cursor()
        try:
            since = queries.unevaluated_since(con, int(stats["last_batch"]))
        finally:
            con.close()
        now = naive_utc(self.clock.now())
        stats["waiting_s"] = 0.0 if since is None else round((now - since).total_seconds(), 3)
        return stats

    def alert_stats(self) -> AlertStats:
        """Outbox depth and failed deliveries per sink (``Alerting.stats()``); zeros when no
        sink is configured."""
        if self.alerting is None:
            return AlertStats()
        stats = self.alerting.stats()
        sinks = stats.get("sinks") or {}
        return AlertStats(
            int(stats.get("pending", 0)),
            {str(name): int(sink.get("failed", 0)) for name, sink in sinks.items()},
        )

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        self.writer.start()
        if self.alerting is not None:
            self.alerting.start()
        if self.evaluation is not None:
            self.evaluation.start()
        if self.workers > 0:
            await self._start_workers()
        else:
            await self._start_in_process()

    async def _start_workers(self) -> None:
        o = self.settings
        http_socket = _listen(o.host, o.http_port)
        self.http_port = int(http_socket.getsockname()[1])
        self.grpc_port = _free_port(o.host, o.grpc_port)
        self.hub = Hub(
            self.writer,
            self.health,
            calls={"api": self.api.handle},
            executor=self.api_executor,
            on_observe=self.latencies.merge,
        )
        context = multiprocessing.get_context("spawn")
        for index in range(self.workers):
            parent, child = context.Pipe(duplex=True)
            worker = frontend.WorkerOptions(
                index=index,
                grpc_address=f"{_grpc_host(o.host)}:{self.grpc_port}",
                token=o.token or "",
                body_limit=o.max_body_size,
                body_timeout_s=o.body_timeout_s,
                record=o.record,
                log_level=logging.getLevelName(o.log_level.upper()),
                log_format=o.log_format,
                tls_files=self.tls,
            )
            process = context.Process(
                target=frontend.run,
                args=(worker, http_socket, child),
                name=f"audit-serve-worker-{index}",
            )
            process.start()
            child.close()
            self.hub.attach(index, parent)
            self._processes.append(process)
        http_socket.close()  # the workers hold it now
        await asyncio.get_running_loop().run_in_executor(None, self._wait_ready)

    def _wait_ready(self) -> None:
        assert self.hub is not None
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        for index, event in self.hub.ready.items():
            while not event.wait(0.2):
                process = self._processes[index]
                if not process.is_alive():
                    raise UsageError(
                        f"front-end worker {index} exited while starting (exit code "
                        f"{process.exitcode}); is port {self.grpc_port} in use?"
                    )
                if time.monotonic() > deadline:
                    raise UsageError(f"front-end worker {index} did not start in time")

    async def _start_in_process(self) -> None:
        o = self.settings
        self._local = LocalCommitter(self.writer)
        self.pipeline = Pipeline(
            self._local,
            body_limit=o.max_body_size,
            body_timeout_s=o.body_timeout_s,
            record_path=o.record,
        )

        async def health() -> dict[str, Any]:
            return self.health()

        loop = asyncio.get_running_loop()

        async def forward(request: ApiRequest) -> ApiResponse:
            return await loop.run_in_executor(self.api_executor, self.api.handle, request)

        app = http_receiver.make_app(
            self.pipeline,
            health,
            middlewares=api_frontend.middlewares(o.token or "", self.latencies),
        )
        api_frontend.add_routes(app, forward)
        # auto_decompress off: the pipeline inflates gzip itself, within the body limit.
        self._runner = web.AppRunner(app, auto_decompress=False, access_log=None)
        await self._runner.setup()
        http_socket = _listen(o.host, o.http_port)
        self.http_port = int(http_socket.getsockname()[1])
        files = self.tls
        await web.SockSite(
            self._runner,
            http_socket,
            backlog=1024,
            ssl_context=None if files is None else tls.http_context(files),
        ).start()
        server, self.grpc_port = grpc_receiver.make_server(
            self.pipeline,
            f"{_grpc_host(o.host)}:{_free_port(o.host, o.grpc_port)}",
            token=o.token or "",
            observe=self.latencies.observe,
            credentials=None if files is None else tls.grpc_credentials(files),
        )
        self._grpc = server
        await server.start()

    async def stop(self) -> None:
        """Drain: refuse new work, answer what is in flight, commit, close."""
        self._stopping = True
        if self.hub is not None:
            self.hub.stop_workers()
            await asyncio.get_running_loop().run_in_executor(None, self._join_workers)
        if self.pipeline is not None:
            grace = asyncio.ensure_future(self._grpc.stop(grace=10)) if self._grpc else None
            await self.pipeline.drain()
            if grace is not None:
                await grace
            if self._runner is not None:
                await self._runner.cleanup()
            self.pipeline.close()
        self.api_executor.shutdown(wait=True)  # no API request reads a closing store
        self.writer.stop()
        if self.evaluation is not None:
            self.evaluation.stop()
            # One last pass over everything committed, so the findings left in the store
            # speak of every span that was acknowledged.
            try:
                self.evaluation.run_once()
            except Exception:
                log.exception("final evaluation pass failed")
        if self.alerting is not None:
            self.alerting.stop()  # what was not delivered stays in the outbox for next time
        try:
            self.store.checkpoint()
        finally:
            self.store.close()

    def _join_workers(self) -> None:
        for process in self._processes:
            process.join(30)
            if process.is_alive():  # stuck: it holds nothing acknowledged
                process.kill()
                process.join()


async def serve(
    settings: Settings,
    on_ready: Callable[[Server], None] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> None:
    server = Server(settings, clock)
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    scheme, grpc_tls = ("http", "") if server.tls is None else ("https", " (TLS)")
    print(
        f"audit serve: OTLP/HTTP on {scheme}://{settings.host}:{server.http_port}/v1/traces, "
        f"OTLP/gRPC on {settings.host}:{server.grpc_port}{grpc_tls}, store {settings.store}, "
        f"{server.workers or 'no'} front-end worker(s)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if on_ready is not None:
        on_ready(server)
    await stop.wait()
    print("audit serve: draining", flush=True)
    await server.stop()
    print(f"audit serve: stopped; {server.writer.stored} spans stored", flush=True)
