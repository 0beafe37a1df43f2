"""``ApiService`` over a store holding the Celery capture's findings: every route, its
parameters and its errors (JSON, with the documented status, never a 500 for bad input)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auditor.api.openapi import DOCUMENT
from auditor.api.service import ApiService
from auditor.api.wire import ARROW_TYPE, ApiRequest, ApiResponse, report_from_arrow
from auditor.engine.evaluate import evaluate
from auditor.reports import json as json_report
from auditor.store.triage import Action, apply_triage
from tests.unit.api.conftest import FINDINGS, NOW, FakeHost


def call(
    service: ApiService, path: str, method: str = "GET", body: Any = None, accept: str = "",
    **params: Any,
) -> ApiResponse:  # fmt: skip
    query = tuple(
        (k, str(v)) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])
    )
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return service.handle(ApiRequest(method, path, query, raw, accept))


def ok(answer: ApiResponse) -> Any:
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


def error(answer: ApiResponse, status: int) -> str:
    assert answer.status == status, answer.body
    assert answer.content_type == "application/json"
    document = json.loads(answer.body)
    assert list(document) == ["error"]
    return str(document["error"])


def test_the_routes_are_the_documented_ones(service: ApiService) -> None:
    routed = {
        (method.lower(), "/" + "/".join(p if p != "*" else "{}" for p in pattern))
        for method, pattern, _ in service._routes
    }
    documented = {
        (method, "/" + "/".join("{}" if p.startswith("{") else p for p in path.strip("/").split("/")))
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }  # fmt: skip
    assert routed == documented


def test_unknown_paths_and_methods(service: ApiService) -> None:
    assert "no such endpoint" in error(call(service, "/api/v2/findings"), 404)
    assert "no such endpoint" in error(call(service, "/api/v1/findings/abc/extra"), 404)
    answer = call(service, "/api/v1/findings", "DELETE")
    error(answer, 405)
    assert answer.headers["Allow"] == "GET"
    assert error(call(service, "/api/v1/rules/x/mute", "GET"), 405)


def test_pages_and_filters(service: ApiService) -> None:
    whole = ok(call(service, "/api/v1/findings"))
    assert whole["next"] is None
    assert len(whole["findings"]) == FINDINGS
    walked, after = [], None
    while True:
        page = ok(call(service, "/api/v1/findings", limit=3, **({"after": after} if after else {})))
        walked += page["findings"]
        after = page["next"]
        if after is None:
            break
    assert walked == whole["findings"]
    severities = [f["severity"] for f in walked]
    assert severities == ["high"] * 6 + ["medium"] * 2

    def count(**params: Any) -> int:
        return len(ok(call(service, "/api/v1/findings", **params))["findings"])

    assert count(severity="high") == 6
    assert count(state="open") == FINDINGS
    assert count(state="open,pending") == FINDINGS
    assert count(state=["pending", "resolved"]) == 0
    assert count(rule="order-email-sent") == 2
    assert count(kind="lost_job") == 1
    assert count(system="celery") == FINDINGS
    assert count(system="rq") == 0
    assert count(triage="new") == FINDINGS
    assert count(since="2026-12-01T12:00:00Z") == FINDINGS  # last seen at NOW
    assert count(since="2026-12-01T13:00:00+01:00") == FINDINGS  # the same moment
    assert count(since="2026-12-01T12:00:01Z") == 0
    assert count(since=str(NOW.timestamp() + 10**12)) == 0  # far future: read as 2261
    assert count(since="0001-01-01T00:00:00Z") == FINDINGS  # read as 1970


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"limit": ""}, {"after": "%%%"},
        {"after": "WzEsMiwzXQ"},  # valid base64 of [1,2,3]: no fingerprint
        {"severity": "urgent"}, {"severity": ""}, {"state": "closed"}, {"state": "open,"},
        {"kind": "lie"}, {"triage": "maybe"}, {"since": "yesterday"}, {"since": "nan"},
    ],
)  # fmt: skip
def test_bad_list_parameters_are_400(service: ApiService, params: dict[str, Any]) -> None:
    error(call(service, "/api/v1/findings", **params), 400)


def test_one_finding_by_fingerprint_or_prefix(service: ApiService, host: FakeHost) -> None:
    fingerprints = [f["fingerprint"] for f in ok(call(service, "/api/v1/findings"))["findings"]]
    one = ok(call(service, f"/api/v1/findings/{fingerprints[0]}"))
    assert one["fingerprint"] == fingerprints[0]
    assert one["notes"] == []
    assert one["evidence"]
    unique = next(
        fp[:n] for fp in fingerprints for n in range(1, 21)
        if sum(other.startswith(fp[:n]) for other in fingerprints) == 1
    )  # fmt: skip
    assert ok(call(service, f"/api/v1/findings/{unique}"))["fingerprint"].startswith(unique)
    shared = Counter(fp[0] for fp in fingerprints).most_common(1)[0]
    if shared[1] > 1:
        assert "more than one" in error(call(service, f"/api/v1/findings/{shared[0]}"), 409)
    error(call(service, "/api/v1/findings/ffffffffffffffffffff"), 404)
    error(call(service, "/api/v1/findings/XYZ"), 404)


def test_triage_through_the_api(service: ApiService) -> None:
    fp = ok(call(service, "/api/v1/findings", kind="lost_job"))["findings"][0]["fingerprint"]
    path = f"/api/v1/findings/{fp}/triage"
    done = ok(call(service, path, "POST", {"action": "acknowledge", "author": "ana"}))
    assert done["triage"] == "acknowledged"
    assert done["notes"][0]["author"] == "ana"
    assert done["notes"][0]["at"] == "2026-12-01T12:00:00.000000Z"
    assert "cannot acknowledge" in error(
        call(service, path, "POST", {"action": "acknowledge"}), 409
    )
    for body in (None, b"{", b"[]", {"action": "shrug"}, {}, {"action": None},
                 {"action": "note"}, {"action": "false_positive", "note": " "},
                 {"action": "note", "note": 5}, {"action": "note", "note": "x", "author": None},
                 {"action": "note", "note": "x" * 4001}):  # fmt: skip
        error(call(service, path, "POST", body), 400)
    error(call(service, "/api/v1/findings/ffffffffffffffffffff/triage", "POST",
               {"action": "reopen"}), 404)  # fmt: skip
    assert ok(call(service, path, "POST", {"action": "reopen"}))["triage"] == "new"


def test_rules_mutes_and_their_counts(service: ApiService, host: FakeHost) -> None:
    rules = {r["id"]: r for r in ok(call(service, "/api/v1/rules"))["rules"]}
    assert rules["order-email-confirmed"]["findings"] == {"pending": 0, "open": 5, "resolved": 0}
    assert rules["order-email-confirmed"]["triage"]["new"] == 5
    assert rules["order-email-confirmed"]["source"].endswith("celery_shop.yaml")
    assert rules["celery-jobs-run"]["source"] == ""  # a built-in pack's rule
    path = "/api/v1/rules/order-email-sent/mute"
    muted = ok(call(service, path, "POST", {"for": "2h", "note": "deploy"}))
    assert muted == {"rule_id": "order-email-sent", "muted_until": "2026-12-01T14:00:00.000000Z"}
    rules = {r["id"]: r for r in ok(call(service, "/api/v1/rules"))["rules"]}
    assert rules["order-email-sent"]["triage"]["muted"] == 2
    assert rules["order-email-sent"]["muted_until"] == muted["muted_until"]
    listed = ok(call(service, "/api/v1/findings", triage="muted"))["findings"]
    assert {f["muted_until"] for f in listed} == {muted["muted_until"]}
    for body in (None, {}, {"for": "soon"}, {"for": "0s"}, {"for": "367d"}, {"for": -5}):
        error(call(service, path, "POST", body), 400)
    error(call(service, "/api/v1/rules/nope/mute", "POST", {"for": "1h"}), 404)
    error(call(service, "/api/v1/rules/nope/mute", "DELETE"), 404)
    assert ok(call(service, path, "DELETE")) == {"rule_id": "order-email-sent", "muted_until": None}
    assert ok(call(service, "/api/v1/findings", triage="muted"))["findings"] == []


def test_a_trace(service: ApiService) -> None:
    finding = ok(call(service, "/api/v1/findings", kind="failed_effect"))["findings"][0]
    trace = ok(call(service, f"/api/v1/traces/{finding['trace_id']}"))
    assert trace["truncated"] is False
    names = [s["name"] for s in trace["spans"]]
    assert "smtp.send" in names
    assert all(isinstance(s["attributes"], dict) for s in trace["spans"])
    error(call(service, "/api/v1/traces/0123"), 404)


def test_stats_and_readiness(service: ApiService, host: FakeHost) -> None:
    stats = ok(call(service, "/api/v1/stats"))
    assert stats["store"] == {"path": ":memory:", "bytes": 0, "spans": 42}
    assert stats["ingest"]["spans_received"] == 42
    assert stats["ingest"]["workers"] == 2
    assert stats["evaluation"] == {
        "passes": 3, "last_seconds": 0.25, "lag_s": 0.5, "waiting_s": 4.0,
    }  # fmt: skip
    assert stats["alerts"] == {"outbox_depth": 0, "failures": {}}
    assert ok(call(service, "/readyz")) == {"status": "ready"}
    host.ready = (False, "the first evaluation of the store has not run yet")
    answer = call(service, "/readyz")
    assert answer.status == 503
    assert json.loads(answer.body)["error"].startswith("the first evaluation")
    assert ok(call(service, "/api/v1/stats"))["not_ready"].startswith("the first evaluation")


def test_metrics(service: ApiService, host: FakeHost) -> None:
    host.latencies.observe("http", "/api/v1/findings", "200", 0.003)
    host.latencies.observe("grpc", "TraceService/Export", "OK", 0.02)
    from auditor.api.service import AlertStats

    host.alerts = AlertStats(3, {"slack": 2})
    answer = call(service, "/metrics")
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.body.decode())
        for s in family.samples
    }
    assert samples[("auditor_spans_received_total", ())] == 42
    assert samples[("auditor_spans_rejected_total", ())] == 1
    assert samples[("auditor_spans_deduplicated_total", ())] == 2
    assert samples[("auditor_evaluation_duration_seconds", ())] == 0.25
    assert samples[("auditor_evaluation_lag_seconds", ())] == 0.5
    assert samples[("auditor_evaluation_waiting_seconds", ())] == 4.0
    assert samples[("auditor_alert_outbox_depth", ())] == 3
    assert samples[("auditor_alert_failures_total", (("sink", "slack"),))] == 2
    assert samples[("auditor_findings", (("kind", "premature_done"),
                    ("rule", "order-email-confirmed"), ("state", "open")))] == 2  # fmt: skip
    key = (("code", "OK"), ("endpoint", "TraceService/Export"), ("le", "0.025"),
           ("protocol", "grpc"))  # fmt: skip
    assert samples[("auditor_request_duration_seconds_bucket", key)] == 1


def test_the_report_is_a_scan_of_the_store_with_its_triage(
    service: ApiService, host: FakeHost
) -> None:
    fp = ok(call(service, "/api/v1/findings", kind="lost_job"))["findings"][0]["fingerprint"]
    apply_triage(host.store.con, fp, Action.ACKNOWLEDGE, note="", author="", now=NOW)
    document = ok(call(service, "/api/v1/report"))
    assert len(document["findings"]) == FINDINGS
    assert document["warnings"] == []
    assert document["summary"]["spans"] == 42
    assert document["summary"]["inputs"] == [":memory:"]
    assert [f["triage"] for f in document["findings"] if f["fingerprint"] == fp] == ["acknowledged"]
    arrow = call(service, "/api/v1/report", accept=ARROW_TYPE)
    assert arrow.content_type == ARROW_TYPE
    report, warnings = report_from_arrow(arrow.body)
    assert warnings == []
    rendered = json_report.document(report)
    assert rendered == {k: v for k, v in document.items() if k != "warnings"}
    # as of the done times: the windows of the capture's jobs are still open
    pending = ok(call(service, "/api/v1/report", as_of="2026-11-28T09:59:52Z"))
    assert pending["summary"]["by_state"].get("pending", 0) > 0
    checked = ok(call(service, "/api/v1/report", checked="true"))
    listed = evaluate(host.store.cursor(), host.catalog, list_checked=True).checked
    assert checked["summary"]["jobs_checked"] == len(listed)  # JUnit lists your rules' jobs
    error(call(service, "/api/v1/report", checked="maybe"), 400)
    error(call(service, "/api/v1/report", as_of="soon"), 400)
