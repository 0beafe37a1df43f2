"""The findings ``audit serve`` keeps in its store describe every span it acknowledged.

``audit tui --db`` and ``audit scan --db`` read the findings a stopped ``audit serve`` left in
the store (docs/design.md, "The CLI"). Stopping drains: every acknowledged span is committed. The
findings must then be those of all the committed spans, not of the last evaluation tick
before the last spans arrived: a job whose run arrived after that tick is not lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from auditor.rules.testing import spans_to_request
from tests.systems.audit_serve import audit_serve

pytestmark = pytest.mark.integration

JOB = "5a0c6c2e-6f1d-4a52-9b0e-3c1f2d4e5f60"
TASK = "shop.send_order_confirmation"
ENQUEUE = [
    {"trace": "t1", "span": "enq", "name": f"apply_async/{TASK}", "kind": "producer",
     "service": "shop-api", "scope": "opentelemetry.instrumentation.celery",
     "start": "0ms", "end": "2ms",
     "attributes": {"celery.action": "apply_async", "messaging.message.id": JOB,
                    "celery.task_name": TASK, "messaging.destination_kind": "queue",
                    "messaging.destination": "emails"}},
]  # fmt: skip
RUN = [
    {"trace": "t1", "span": "run", "parent": "enq", "name": f"run/{TASK}", "kind": "consumer",
     "service": "shop-celery-worker", "scope": "opentelemetry.instrumentation.celery",
     "start": "50ms", "end": "90ms",
     "attributes": {"celery.action": "run", "celery.task_name": TASK, "celery.state": "SUCCESS",
                    "messaging.message.id": JOB, "messaging.destination": "emails"},
     "events": [{"name": "job.done", "at": "85ms",
                 "attributes": {"job.id": JOB, "job.status": "completed",
                                "side_effect.key": "ORD-9001"}}]},
    {"trace": "t1", "span": "ok", "parent": "run", "name": "side_effect.confirm",
     "service": "shop-celery-worker", "scope": "shop.jobs", "start": "70ms", "end": "70ms",
     "attributes": {"side_effect.name": "email.sent", "side_effect.key": "ORD-9001",
                    "job.id": JOB}},
]  # fmt: skip


def _post(client: httpx.Client, endpoint: str, spans: list[dict]) -> None:
    response = client.post(
        f"{endpoint}/v1/traces",
        content=json.dumps(spans_to_request(spans)),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def _passes(client: httpx.Client, endpoint: str) -> int:
    evaluation = client.get(f"{endpoint}/healthz").json().get("evaluation") or {}
    return int(evaluation.get("passes", 0))


def test_a_job_whose_run_arrived_after_the_last_tick_is_not_left_lost_when_serve_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_EVALUATION_INTERVAL", "3s")
    db = tmp_path / "store.duckdb"
    with audit_serve(db) as endpoint, httpx.Client(timeout=10) as client:
        _post(client, endpoint, ENQUEUE)
        deadline = time.monotonic() + 20
        while _passes(client, endpoint) < 1:  # serve has evaluated the enqueue alone
            assert time.monotonic() < deadline, "no evaluation pass in 20 s"
            time.sleep(0.1)
        _post(client, endpoint, RUN)  # acknowledged, then serve is stopped at once

    con = duckdb.connect(str(db), read_only=True)
    try:
        spans = con.execute("SELECT count(*) FROM otel_traces").fetchall()[0][0]
        kept = con.execute(
            "SELECT rule_id, kind, state FROM findings WHERE job_id = ? AND state <> 'resolved'",
            [JOB],
        ).fetchall()
    finally:
        con.close()
    assert spans == 3  # everything acknowledged was committed
    assert kept == []  # the job ran and confirmed its email: nothing about it is open
