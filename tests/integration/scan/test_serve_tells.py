"""A person running ``audit serve`` sees lies: one log line per finding that opens or
resolves, as JSON with ``--log-format json``; time alone opens a pending finding (no new span
needed, a quiet queue too), and a late confirmation resolves it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import pytest

from auditor.rules.testing import BASE_TIME_NS, spans_to_request
from tests.integration.receivers.conftest import launch_server, stop_cleanly

pytestmark = pytest.mark.integration

RULE = """
rules:
  - id: receipt-mailed
    severity: high
    jobs: {system: celery}
    expect: {effect: email.sent, within: 4s}
"""
JOB = "0c9f4d1e-7a61-4f0e-8d55-3f2b1a9e6c70"


def _spans(now_ns: int) -> tuple[list[dict], list[dict]]:
    """A Celery run marked done just now, and its confirmation (sent later, as a late one)."""
    offset = f"{(now_ns - BASE_TIME_NS) / 1e9:.3f}s"
    run = {
        "trace": "t-late", "span": "run", "name": "run/shop.send_receipt", "kind": "consumer",
        "service": "shop-worker", "start": offset, "end": offset,
        "attributes": {"celery.action": "run", "celery.task_name": "shop.send_receipt",
                       "celery.state": "SUCCESS", "messaging.message.id": JOB},
    }  # fmt: skip
    confirm = {
        "trace": "t-late", "span": "mail", "parent": "run", "name": "side_effect.confirm",
        "service": "shop-worker", "start": offset, "end": offset,
        "attributes": {"side_effect.name": "email.sent", "side_effect.key": "ORD-1",
                       "job.id": JOB},
    }  # fmt: skip
    return [run], [confirm]


def _logged(server, change: str) -> list[dict]:  # type: ignore[no-untyped-def]
    lines = [line for line in server.output().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    return [r for r in records if r.get("finding", {}).get("change") == change]


def _wait(condition, seconds: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_a_lie_is_told_when_its_grace_closes_and_again_when_it_resolves(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    db = tmp_path / "store.duckdb"
    env = {**os.environ, "AUDIT_EVALUATION_INTERVAL": "1s"}
    server = launch_server(
        tmp_path, db, "--db", str(db), "--host", "127.0.0.1", "--http-port", "0",
        "--grpc-port", "0", "--rules", str(rules), "--log-format",
        "json", "--decode-workers", "0", env=env,
    )  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{server.http_port}"
        run, confirm = _spans(time.time_ns())
        sent = time.monotonic()
        response = httpx.post(
            f"{endpoint}/v1/traces", content=json.dumps(spans_to_request(run)),
            headers={"Content-Type": "application/json"}, timeout=10,
        )  # fmt: skip
        assert response.status_code == 200
        # pending for 4 s, then open with no further span: time alone tells the lie
        [opened] = _wait(lambda: _logged(server, "opened"))
        waited = time.monotonic() - sent
        assert 3.5 <= waited <= 4 + 2 * 1 + 3, waited  # grace, plus at most two ticks (+ slack)
        finding = opened["finding"]
        assert (finding["rule_id"], finding["kind"], finding["job_id"]) == (
            "receipt-mailed", "unconfirmed_done", JOB,
        )  # fmt: skip
        assert finding["trace_id"] and finding["system"] == "celery"

        httpx.post(
            f"{endpoint}/v1/traces", content=json.dumps(spans_to_request(confirm)),
            headers={"Content-Type": "application/json"}, timeout=10,
        )  # fmt: skip
        [resolved] = _wait(lambda: _logged(server, "resolved"))
        assert resolved["finding"]["fingerprint"] == finding["fingerprint"]
        assert len(_logged(server, "opened")) == 1  # told once
    finally:
        stop_cleanly(server)


def test_a_lie_reaches_the_webhook_once_opened_and_once_resolved(tmp_path: Path) -> None:
    from tests.integration.alerts.fakes import webhook

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    db = tmp_path / "store.duckdb"
    with webhook() as sink:
        config = tmp_path / "audit.yaml"
        config.write_text(
            "evaluation: {interval: 1s}\n"
            f"alerts:\n  - {{sink: webhook, url: '{sink.url('/hook')}', min_severity: high}}\n"
        )
        server = launch_server(
            tmp_path, db, "--db", str(db), "--host", "127.0.0.1", "--http-port", "0",
            "--grpc-port", "0", "--rules", str(rules), "--config", str(config),
            "--decode-workers", "0", name="alerting",
        )  # fmt: skip
        try:
            endpoint = f"http://127.0.0.1:{server.http_port}"
            run, confirm = _spans(time.time_ns())
            sent = time.monotonic()
            httpx.post(
                f"{endpoint}/v1/traces", content=json.dumps(spans_to_request(run)),
                headers={"Content-Type": "application/json"}, timeout=10,
            )  # fmt: skip
            [opened] = sink.wait_for(1, timeout=30)
            latency = time.monotonic() - sent - 4  # past the rule's 4 s grace
            assert latency <= 2 * 1 + 2, latency  # two ticks, plus delivery slack
            document = opened.json()
            assert document["event"] == "open"
            [finding] = document["findings"]
            assert (finding["rule_id"], finding["job_id"]) == ("receipt-mailed", JOB)

            httpx.post(
                f"{endpoint}/v1/traces", content=json.dumps(spans_to_request(confirm)),
                headers={"Content-Type": "application/json"}, timeout=10,
            )  # fmt: skip
            received = sink.wait_for(2, timeout=30)
            assert [r.json()["event"] for r in received] == ["open", "resolved"]
            time.sleep(2)  # a few more ticks: nothing is told twice
            assert len(sink.accepted()) == 2
        finally:
            stop_cleanly(server)
