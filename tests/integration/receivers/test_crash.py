"""SIGKILL mid-stream loses nothing acknowledged: every span of every request answered 200 is in
the store when it is opened again, and nothing is stored twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.integration.receivers.conftest import start_server
from tests.integration.receivers.requests import fresh_request, ids_of

pytestmark = pytest.mark.integration

CLIENTS = 4
TRACES_PER_REQUEST = 10  # 60 spans


def big_request() -> ExportTraceServiceRequest:
    request = fresh_request()
    spans = request.resource_spans[0].scope_spans[0].spans
    for _ in range(TRACES_PER_REQUEST - 1):
        spans.extend(fresh_request().resource_spans[0].scope_spans[0].spans)
    return request


def test_sigkill_mid_stream_keeps_every_acknowledged_span_exactly_once(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    sent: set[tuple[str, str]] = set()
    acknowledged: set[tuple[str, str]] = set()
    unanswered = 0
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        nonlocal unanswered
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                request = big_request()
                ids = ids_of(request)
                with lock:
                    sent.update(ids)
                try:
                    response = http.post(
                        server.url,
                        content=request.SerializeToString(),
                        headers={"Content-Type": "application/x-protobuf"},
                    )
                except httpx.TransportError:
                    with lock:
                        unanswered += 1
                    return
                assert response.status_code == 200, response.text
                with lock:
                    acknowledged.update(ids)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 200 * 60:
                break
        time.sleep(0.02)
    server.kill()  # SIGKILL, with requests in flight
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert unanswered >= 1, "the kill should have caught requests in flight"
    stored = server.stored_ids()
    assert len(stored) == len(set(stored)), "a span is stored twice"
    assert acknowledged <= set(stored), f"{len(acknowledged - set(stored))} acknowledged spans lost"
    assert set(stored) <= sent
    assert len(acknowledged) >= 100 * 60


def test_the_front_end_workers_do_not_outlive_a_killed_server(tmp_path: Path) -> None:
    from tests.integration.receivers.conftest import _live_group_members

    server = start_server(tmp_path)
    pid = server.process.pid
    assert len(_live_group_members(pid)) >= 3  # the store process and its front-end workers
    server.process.kill()
    server.process.wait(timeout=30)
    try:
        deadline = time.monotonic() + 3  # a parent-death signal or watchdog needs far less
        while time.monotonic() < deadline and _live_group_members(pid):
            time.sleep(0.1)
        assert _live_group_members(pid) == [], "orphaned front-end workers are still running"
    finally:
        server.kill_leftovers()
