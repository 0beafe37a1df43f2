"""``audit serve``'s API, end to end: a real server (two front-end workers, a token, the rules
of the Celery capture) fed the capture by the official OTLP exporters; then the API lists the
findings (pages that neither skip nor repeat, filters), shows one with its evidence and
trace, counts them per rule, says how ingest and evaluation go, and ``/metrics`` adds up the
requests of both workers. The token guards the API and both receivers. Triage and mutes made
through the API are kept in the store: ``audit scan --db`` shows them after the server
stopped, and ``audit scan --server`` printed the very same report and exit code before."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace.export import SpanExportResult
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.receivers.capture import (
    CAPTURE,
    FINDINGS,
    RULES,
    SPANS,
    api,
    audit,
    capture_requests,
    export_capture,
    grpc_exporter,
    http_exporter,
    one_more_span,
    post_spans,
    scan_json,
    sdk_spans,
    wait_for_findings,
)
from tests.integration.receivers.conftest import (
    AuditServer,
    launch_server,
    start_server,
    stop_cleanly,
)

pytestmark = pytest.mark.integration

TOKEN = "s3cret-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditServer]:
    """The capture, sent with the token by the exporters, evaluated: 8 findings."""
    tmp = tmp_path_factory.mktemp("api")
    server = start_server(
        tmp, "--rules", str(RULES), "--token", TOKEN, "--decode-workers", "2",
        "--evaluation-interval", "0.2s",
    )  # fmt: skip
    try:
        export_capture(server, TOKEN)
        wait_for_findings(server, TOKEN)
        yield server
    finally:
        if server.running():
            stop_cleanly(server)


def get(server: AuditServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api(server)}{path}", params=params, headers=AUTH, timeout=30)


def post(server: AuditServer, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{api(server)}{path}", json=body, headers=AUTH, timeout=30)


def all_findings(server: AuditServer, **filters: Any) -> list[dict[str, Any]]:
    response = get(server, "/api/v1/findings", limit=1000, **filters)
    assert response.status_code == 200, response.text
    assert response.json()["next"] is None
    findings: list[dict[str, Any]] = response.json()["findings"]
    return findings


# ---------------------------------------------------------------------- the token


def test_the_token_guards_the_api_and_both_receivers_but_not_the_probes(
    served: AuditServer,
) -> None:
    base = api(served)
    for path in ("/api/v1/findings", "/api/v1/stats", "/metrics", "/openapi.json"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            answer = httpx.get(base + path, headers=headers, timeout=10)
            assert answer.status_code == 401, (path, headers)
            assert answer.json() == {"error": "missing or wrong bearer token"}
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(base + "/healthz", timeout=10).status_code == 200
    assert httpx.get(base + "/readyz", timeout=10).json() == {"status": "ready"}

    # the official exporters without the token, or with a wrong one, are refused
    spans = sdk_spans()[:3]
    for token in (None, "wrong"):
        for exporter in (http_exporter(served, token), grpc_exporter(served, token)):
            try:
                assert exporter.export(spans) == SpanExportResult.FAILURE
            finally:
                exporter.shutdown()
    # the gRPC status itself
    with grpc.insecure_channel(served.grpc_target) as channel:
        export = channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=ExportTraceServiceRequest.SerializeToString,
        )
        with pytest.raises(grpc.RpcError) as refused:
            export(capture_requests()[0], timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # OTLP/HTTP answers a google.rpc.Status in the request's encoding
    refused_http = httpx.post(
        served.url, content=b"{}", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert refused_http.status_code == 401
    assert refused_http.json()["code"] == 16  # UNAUTHENTICATED
    assert get(served, "/api/v1/stats").json()["store"]["spans"] == SPANS  # nothing more


# ---------------------------------------------------------------------- findings


def test_pages_of_findings_neither_skip_nor_repeat_and_keep_their_order(
    served: AuditServer,
) -> None:
    whole = all_findings(served)  # with those an evaluation between two exports resolved
    assert len(all_findings(served, state="open")) == FINDINGS
    ranks = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    keys = [(-ranks[f["severity"]], f["last_seen"], f["fingerprint"]) for f in whole]
    assert keys == sorted(keys)
    for size in (1, 3, 5):
        walked, after, pages = [], None, 0
        while True:
            params: dict[str, Any] = {"limit": size, **({"after": after} if after else {})}
            page = get(served, "/api/v1/findings", **params).json()
            walked += page["findings"]
            pages += 1
            after = page["next"]
            if after is None:
                break
        assert [f["fingerprint"] for f in walked] == [f["fingerprint"] for f in whole]
        assert pages == -(-len(whole) // size)
    # a cursor the API did not make, and other bad parameters, are 400
    for params in (
        {"after": "not-a-cursor"}, {"limit": 0}, {"limit": 1001}, {"limit": "ten"},
        {"severity": "urgent"}, {"state": "closed"}, {"kind": "lie"}, {"triage": "maybe"},
        {"since": "yesterday"},
    ):  # fmt: skip
        answer = get(served, "/api/v1/findings", **params)
        assert answer.status_code == 400, params
        assert set(answer.json()) == {"error"}


def test_filters_select_findings(served: AuditServer) -> None:
    def count(**filters: Any) -> int:
        # Findings that an evaluation between two exports made, and the next resolved, are
        # kept (resolved): the lies of the capture are the open ones.
        return len(all_findings(served, **{"state": "open", **filters}))

    assert count(severity="high") == 6
    assert count(severity="medium") == FINDINGS
    assert count(severity="critical") == 0
    assert count(state="pending") == 0
    assert count(state=["pending", "open"]) == FINDINGS
    assert count(rule="order-email-sent") == 2
    assert count(rule="order-email-sent,celery-jobs-run") == 3
    assert count(kind="premature_done") == 2
    assert count(kind=["unconfirmed_done", "lost_job"]) == 4
    assert count(system="celery") == FINDINGS
    assert count(system="rq") == 0
    assert count(since="2000-01-01T00:00:00Z") == FINDINGS
    assert count(since=str(time.time() + 3600)) == 0
    assert count(severity="high", kind="unconfirmed_done", rule="order-email-confirmed") == 1


def test_one_finding_with_its_evidence_notes_and_trace(served: AuditServer) -> None:
    (lie,) = all_findings(served, kind="failed_effect", state="open")
    answer = get(served, f"/api/v1/findings/{lie['fingerprint'][:8]}")
    assert answer.status_code == 200
    finding = answer.json()
    assert finding["fingerprint"] == lie["fingerprint"]
    assert finding["rule_id"] == "order-email-confirmed"
    assert finding["state"] == "open"
    assert finding["origin"] == "serve"
    assert finding["notes"] == []
    roles = [e["role"] for e in finding["evidence"]]
    assert "job_run" in roles
    assert any(e["status"] == "Error" for e in finding["evidence"])
    # the evidence is what a scan of the capture says
    code, scanned, _ = scan_json(str(CAPTURE), "--rules", str(RULES))
    assert code == 1
    (same,) = [f for f in scanned["findings"] if f["fingerprint"] == lie["fingerprint"]]
    assert finding["evidence"] == same["evidence"]
    assert finding["message"] == same["message"]

    trace = get(served, f"/api/v1/traces/{finding['trace_id']}").json()
    assert trace["trace_id"] == finding["trace_id"]
    assert trace["truncated"] is False
    ids = {s["span_id"] for s in trace["spans"]}
    assert {
        e["span_id"] for e in finding["evidence"] if e["trace_id"] == finding["trace_id"]
    } <= ids
    starts = [s["start_ns"] for s in trace["spans"]]
    assert starts == sorted(starts)
    assert any(s["name"] == "smtp.send" and s["status"] == "Error" for s in trace["spans"])

    for path in ("/api/v1/findings/ffffffffffffffffffff", "/api/v1/findings/not-hex",
                 "/api/v1/traces/00000000000000000000000000000000"):  # fmt: skip
        missing = get(served, path)
        assert missing.status_code == 404, path
        assert "error" in missing.json()
    assert get(served, "/api/v1/nothing").status_code == 404
    assert httpx.put(f"{api(served)}/api/v1/findings", headers=AUTH).status_code == 405


def test_rules_with_their_findings_by_state_and_triage(served: AuditServer) -> None:
    rules = {r["id"]: r for r in get(served, "/api/v1/rules").json()["rules"]}
    assert rules["order-email-confirmed"]["findings"]["open"] == 5
    assert rules["order-email-sent"]["findings"]["open"] == 2
    assert rules["celery-jobs-run"]["findings"]["open"] == 1
    assert rules["rq-jobs-run"]["findings"] == {"pending": 0, "open": 0, "resolved": 0}
    assert rules["order-email-confirmed"]["labels"] == {"team": "shop"}
    assert rules["order-email-confirmed"]["severity"] == "high"
    assert rules["order-email-confirmed"]["source"].endswith("celery_shop.yaml")
    assert all(r["muted_until"] is None for r in rules.values())


def test_stats_say_how_ingest_and_evaluation_go(served: AuditServer) -> None:
    stats = get(served, "/api/v1/stats").json()
    assert stats["ready"] is True
    assert stats["store"]["spans"] == SPANS
    assert stats["store"]["bytes"] > 0
    assert stats["ingest"]["spans_received"] == SPANS
    assert stats["ingest"]["spans_stored"] == SPANS
    assert stats["ingest"]["workers"] == 2
    assert stats["ingest"]["last_5_minutes"]["spans_received"] == SPANS
    assert stats["evaluation"]["passes"] >= 1
    assert stats["evaluation"]["findings"] == FINDINGS
    assert stats["evaluation"]["waiting_s"] == 0
    assert stats["alerts"] == {"outbox_depth": 0, "failures": {}}


def _metrics(server: AuditServer) -> dict[str, list[Any]]:
    answer = get(server, "/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def test_metrics_add_up_every_worker(served: AuditServer) -> None:
    hits = 12
    for _ in range(hits):  # new connections: the kernel spreads them over both workers
        assert get(served, "/openapi.json").status_code == 200
    time.sleep(1.5)  # each worker reports its timings about once a second
    families = _metrics(served)

    def value(family: str, sample: str, **labels: str) -> float:
        found = [
            s.value
            for s in families[family]
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        return float(sum(found))

    assert value("auditor_spans_received", "auditor_spans_received_total") == SPANS
    assert value("auditor_spans_stored", "auditor_spans_stored_total") == SPANS
    assert value("auditor_spans_rejected", "auditor_spans_rejected_total") == 0
    assert value("auditor_spans_deduplicated", "auditor_spans_deduplicated_total") == 0
    assert value("auditor_findings", "auditor_findings", state="open") == FINDINGS
    assert value("auditor_findings", "auditor_findings", rule="order-email-confirmed",
                 kind="premature_done", state="open") == 2  # fmt: skip
    duration = "auditor_request_duration_seconds"
    assert value(duration, f"{duration}_count", endpoint="/openapi.json", code="200") == hits
    assert value(duration, f"{duration}_bucket", endpoint="/openapi.json", code="200",
                 le="+Inf") == hits  # fmt: skip
    assert value(duration, f"{duration}_count", endpoint="/openapi.json", code="401") == 3
    assert value(duration, f"{duration}_count", protocol="http", endpoint="/v1/traces",
                 code="200") >= 1  # fmt: skip
    assert value(duration, f"{duration}_count", protocol="grpc", code="OK") >= 1
    assert value(duration, f"{duration}_count", protocol="grpc", code="UNAUTHENTICATED") >= 1
    assert value("auditor_evaluation_passes", "auditor_evaluation_passes_total") >= 1
    assert value("auditor_evaluation_lag_seconds", "auditor_evaluation_lag_seconds") >= 0
    assert value("auditor_evaluation_waiting_seconds", "auditor_evaluation_waiting_seconds") == 0
    assert "auditor_evaluation_duration_seconds" in families
    assert value("auditor_alert_outbox_depth", "auditor_alert_outbox_depth") == 0
    assert value("auditor_ready", "auditor_ready") == 1
    assert value("auditor_store_size_bytes", "auditor_store_size_bytes") > 0


# ---------------------------------------------------------------------- the CLI, triage


def test_audit_findings_lists_what_the_server_keeps(served: AuditServer) -> None:
    done = audit("findings", "--server", api(served), "--token", TOKEN, "-f", "json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert len(document["findings"]) == FINDINGS
    assert document["summary"]["spans"] == SPANS
    only = audit("findings", "--server", api(served), "--kind", "premature_done", "-f", "json",
                 env={**os.environ, "AUDIT_TOKEN": TOKEN})  # fmt: skip
    assert only.returncode == 1
    assert {f["kind"] for f in json.loads(only.stdout)["findings"]} == {"premature_done"}
    high = audit("findings", "--server", api(served), "--token", TOKEN, "--fail-on", "critical")
    assert high.returncode == 0
    wrong = audit("findings", "--server", api(served), "--token", "nope")
    assert wrong.returncode == 2
    assert "wants its token" in wrong.stderr
    assert TOKEN not in wrong.stderr
    bad = audit("findings", "--server", api(served), "--token", TOKEN, "--state", "closed")
    assert bad.returncode == 2
    gone = audit("findings", "--server", "http://127.0.0.1:9", "--token", TOKEN)
    assert gone.returncode == 3


def test_triage_is_kept_and_a_scan_of_the_store_agrees_with_the_server(
    served: AuditServer,
) -> None:
    findings = {
        f["kind"]: f for f in all_findings(served, rule="order-email-confirmed", state="open")
    }
    duplicate = findings["duplicate_effect"]["fingerprint"]
    failed = findings["failed_effect"]["fingerprint"]

    def triage(fingerprint: str, **body: Any) -> httpx.Response:
        return post(served, f"/api/v1/findings/{fingerprint}/triage", body)

    assert triage(duplicate, action="acknowledge", author="ana").json()["triage"] == "acknowledged"
    assert triage(duplicate, action="acknowledge").status_code == 409
    assert triage(duplicate, action="false_positive").status_code == 400  # needs a note
    marked = triage(duplicate, action="false_positive", note="the retry sent one email").json()
    assert marked["triage"] == "false_positive"
    assert [n["triage"] for n in marked["notes"]] == ["acknowledged", "false_positive"]
    assert marked["notes"][1]["text"] == "the retry sent one email"
    assert marked["notes"][0]["author"] == "ana"
    assert triage(failed, action="note", note="SMTP said 550").json()["triage"] == "new"
    assert triage(failed, action="reopen").status_code == 409
    assert triage(failed, action="shrug").status_code == 400
    assert post(served, f"/api/v1/findings/{failed}/triage", [1]).status_code == 400

    muted = post(served, "/api/v1/rules/order-email-sent/mute", {"for": "2h", "note": "deploy"})
    assert muted.status_code == 200
    assert muted.json()["muted_until"].endswith("Z")
    assert post(served, "/api/v1/rules/order-email-sent/mute", {"for": "soon"}).status_code == 400
    assert post(served, "/api/v1/rules/no-such-rule/mute", {"for": "1h"}).status_code == 404

    # the API shows it all, and later evaluations keep it
    passes = get(served, "/api/v1/stats").json()["evaluation"]["passes"]
    post_spans(served, TOKEN, one_more_span())
    deadline = time.monotonic() + 30
    while get(served, "/api/v1/stats").json()["evaluation"]["passes"] == passes:
        assert time.monotonic() < deadline, "no evaluation after the new span"
        time.sleep(0.1)
    by_triage = {f["fingerprint"]: f["triage"] for f in all_findings(served, state="open")}
    assert by_triage[duplicate] == "false_positive"
    assert list(by_triage.values()).count("muted") == 2
    assert len(all_findings(served, triage="muted", state="open")) == 2
    rules = {r["id"]: r for r in get(served, "/api/v1/rules").json()["rules"]}
    assert rules["order-email-sent"]["triage"]["muted"] >= 2
    assert rules["order-email-sent"]["muted_until"] == muted.json()["muted_until"]
    assert rules["order-email-confirmed"]["triage"]["false_positive"] == 1

    # audit scan --server: the server's store, by its rules, through the API
    remote = audit("scan", "--server", api(served), "--token", TOKEN, "-f", "json")
    assert remote.returncode == 1, remote.stderr
    remote_junit = audit("scan", "--server", api(served), "--token", TOKEN, "-f", "junit")
    refused = audit("scan", "--server", api(served), "--db", str(served.db))
    assert refused.returncode == 2

    stop_cleanly(served)
    code, local, text = scan_json("--db", str(served.db), "--rules", str(RULES))
    assert (code, text) == (remote.returncode, remote.stdout)
    triaged = {f["fingerprint"]: f["triage"] for f in local["findings"]}
    assert triaged[duplicate] == "false_positive"
    assert list(triaged.values()).count("muted") == 2
    assert list(triaged.values()).count("new") == FINDINGS - 3
    local_junit = audit("scan", "--db", str(served.db), "--rules", str(RULES), "-f", "junit")
    assert (local_junit.returncode, local_junit.stdout) == (
        remote_junit.returncode, remote_junit.stdout,
    )  # fmt: skip
    notes = served.query("SELECT count(*) FROM finding_notes")
    assert notes == [(3,)]


# ---------------------------------------------------------------------- one process, readiness


def test_the_api_and_the_token_in_one_process_and_readiness(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--token", TOKEN, "--decode-workers", "0",
                          "--evaluation-interval", "1h")  # fmt: skip
    try:
        assert httpx.get(f"{api(server)}/readyz").json() == {"status": "ready"}  # empty store
        assert httpx.get(f"{api(server)}/api/v1/stats").status_code == 401
        export_capture(server, TOKEN)
        stats = get(server, "/api/v1/stats").json()
        assert stats["store"]["spans"] == SPANS
        assert stats["ingest"]["workers"] == 0
        assert stats["evaluation"]["passes"] == 0
        assert stats["evaluation"]["waiting_s"] > 0
        families = _metrics(server)
        grpc_ok = [
            s for s in families["auditor_request_duration_seconds"]
            if s.name.endswith("_count") and s.labels["protocol"] == "grpc"
        ]  # fmt: skip
        assert sum(s.value for s in grpc_ok) == 1
    finally:
        stop_cleanly(server)
    # restarted on a store with spans no evaluation has seen: not ready until one has run
    again = launch_server(
        tmp_path, server.db, "--db", str(server.db), "--http-port", "0", "--grpc-port", "0",
        "--evaluation-interval", "1h", name="again",
    )  # fmt: skip
    try:
        answer = httpx.get(f"{api(again)}/readyz")
        assert answer.status_code == 503
        assert "first evaluation" in answer.json()["error"]
        assert httpx.get(f"{api(again)}/healthz").status_code == 200
        assert httpx.get(f"{api(again)}/api/v1/findings").status_code == 200  # no token set
    finally:
        stop_cleanly(again)


def test_the_alert_outbox_shows_in_stats_and_metrics(tmp_path: Path) -> None:
    from tests.integration.alerts.fakes import HttpSink, always

    with HttpSink(always(400, "no")) as sink:
        config = tmp_path / "audit.yaml"
        config.write_text(
            f"alerts:\n  - {{sink: webhook, name: hook, url: 'http://127.0.0.1:{sink.port}/'}}\n"
        )
        server = start_server(tmp_path, "--config", str(config), "--rules", str(RULES),
                              "--decode-workers", "0", "--evaluation-interval", "0.2s")  # fmt: skip
        try:
            export_capture(server, None)
            deadline = time.monotonic() + 30
            while True:
                alerts = get(server, "/api/v1/stats").json()["alerts"]
                if alerts["failures"].get("hook", 0) >= 1:
                    break
                assert time.monotonic() < deadline, alerts
                time.sleep(0.2)
            families = _metrics(server)
            failed = [s for s in families["auditor_alert_failures"] if s.labels["sink"] == "hook"]
            assert failed and failed[0].value >= 1
            assert sink.requests  # the sink was asked, and refused
        finally:
            stop_cleanly(server)
