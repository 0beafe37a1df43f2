"""Request latencies that add up across processes, and the Prometheus text of a scrape."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from auditor.api.metrics import BUCKETS, Latencies, Snapshot, render


def test_what_workers_report_adds_up() -> None:
    workers = [Latencies(), Latencies()]
    store = Latencies()
    for i, worker in enumerate(workers):
        for _ in range(3 + i):
            worker.observe("http", "/api/v1/findings", "200", 0.004)
        worker.observe("grpc", "Export", "OK", 99.0)  # over the last bound
    for worker in workers:
        store.merge(worker.take())
        assert worker.take() == {}  # taken once
    merged = store.snapshot()
    findings = merged[("http", "/api/v1/findings", "200")]
    assert findings[BUCKETS.index(0.005)] == 7
    assert sum(findings[:-1]) == 7
    assert abs(findings[-1] - 7 * 0.004) < 1e-9
    assert merged[("grpc", "Export", "OK")][len(BUCKETS)] == 2


def test_a_scrape_parses_as_prometheus_text() -> None:
    latencies = Latencies()
    latencies.observe("http", "/metrics", "200", 0.0001)
    latencies.observe("http", "/metrics", "200", 0.3)
    text = render(
        Snapshot(
            version="1.2.3",
            spans_received=10,
            spans_rejected=1,
            spans_deduplicated=2,
            spans_stored=8,
            export_requests=3,
            commits=2,
            pending_spans=0,
            store_bytes=4096,
            ready=True,
            latencies=latencies.snapshot(),
            findings=[("r", "lost_job", "open", 4), ("r", "lost_job", "resolved", 1)],
            evaluation_passes=5,
            evaluation_seconds=0.5,
            evaluation_lag_seconds=1.5,
            evaluation_waiting_seconds=2.5,
            outbox_depth=0,
            alert_failures={"webhook": 1},
        )
    ).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["auditor_spans_received"].type == "counter"
    assert families["auditor_findings"].type == "gauge"
    assert families["auditor_request_duration_seconds"].type == "histogram"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    labels = (("code", "200"), ("endpoint", "/metrics"))
    assert samples[("auditor_request_duration_seconds_bucket", (*labels, ("le", "0.001"),
                    ("protocol", "http")))] == 1  # fmt: skip
    assert samples[("auditor_request_duration_seconds_bucket", (*labels, ("le", "+Inf"),
                    ("protocol", "http")))] == 2  # fmt: skip
    assert samples[("auditor_request_duration_seconds_count", (*labels, ("protocol", "http")))] == 2
    assert samples[("auditor_build_info", (("version", "1.2.3"),))] == 1
    assert samples[("auditor_alert_failures_total", (("sink", "webhook"),))] == 1
    assert samples[("auditor_evaluation_lag_seconds", ())] == 1.5
    assert samples[("auditor_evaluation_waiting_seconds", ())] == 2.5
