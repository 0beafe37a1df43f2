"""``/metrics``: the sidecar's numbers in the Prometheus text format (prometheus-client).

Everything is aggregated in the store process, never in prometheus-client's multiprocess
mode: the counters of spans received, rejected, deduplicated and stored are the store
process's own (every export reaches it through the hub), and request latencies, measured
where each request is answered (a front-end worker or the store process), are kept in a
``Latencies`` per process. A worker sends what it observed since its last report to the store
process about once a second and before it forwards a ``/metrics`` request, which merges them
(``Latencies.merge``): the histogram a scrape reads adds up every process's requests.

``render(snapshot)`` writes one ``Snapshot`` (numbers the store process gathered for this
scrape) through a registry of its own, so nothing global is kept between scrapes. The metric
names and labels are a user-facing contract (docs/api.md): add, never rename.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# request latency bucket bounds, in seconds (the +Inf bucket is implied)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Key = tuple[str, str, str]  # protocol, endpoint, code


class Latencies:
    """Request counts per latency bucket and their sum, per (protocol, endpoint, code).

    Each value is ``[count in bucket 0, …, count over the last bound, sum of seconds]``
    (counts per bucket, not cumulative, so that deltas add)."""

    def __init__(self) -> None:
        self._data: dict[Key, list[float]] = {}
        self._lock = threading.Lock()

    def observe(self, protocol: str, endpoint: str, code: str, seconds: float) -> None:
        index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
        with self._lock:
            slots = self._data.setdefault((protocol, endpoint, code), [0.0] * (len(BUCKETS) + 2))
            slots[index] += 1
            slots[-1] += seconds

    def take(self) -> dict[Key, list[float]]:
        """What was observed since the last ``take``, and forget it (a worker's report)."""
        with self._lock:
            data, self._data = self._data, {}
        return data

    def merge(self, deltas: dict[Key, list[float]]) -> None:
        with self._lock:
            for key, values in deltas.items():
                slots = self._data.setdefault(key, [0.0] * (len(BUCKETS) + 2))
                for i, value in enumerate(values):
                    slots[i] += value

    def snapshot(self) -> dict[Key, list[float]]:
        with self._lock:
            return {key: list(values) for key, values in self._data.items()}


@dataclass(frozen=True)
class Snapshot:
    """The numbers of one scrape (counters are totals since the process started)."""

    version: str
    spans_received: int
    spans_rejected: int
    spans_deduplicated: int
    spans_stored: int
    export_requests: int
    commits: int
    pending_spans: int
    store_bytes: int
    ready: bool
    latencies: dict[Key, list[float]]
    findings: list[tuple[str, str, str, int]]  # rule, kind, state, count
    evaluation_passes: int
    evaluation_seconds: float
    evaluation_lag_seconds: float
    evaluation_waiting_seconds: float
    outbox_depth: int
    alert_failures: dict[str, int] = field(default_factory=dict)


class _Scrape(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.s = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.s
        info = InfoMetricFamily("auditor_build", "The auditor that answers.")
        info.add_metric([], {"version": s.version})
        yield info
        counters: tuple[tuple[str, float, str], ...] = (
            ("auditor_spans_received", s.spans_received,
             "Spans decoded from OTLP requests and offered to the store."),
            ("auditor_spans_rejected", s.spans_rejected,
             "Spans rejected one by one while decoding (OTLP partial success)."),
            ("auditor_spans_deduplicated", s.spans_deduplicated,
             "Spans not stored because the store already held them (same trace and span id)."),
            ("auditor_spans_stored", s.spans_stored, "Spans committed to the store."),
            ("auditor_export_requests", s.export_requests,
             "OTLP export requests that reached the store process."),
            ("auditor_commits", s.commits, "Group commits of the span writer."),
            ("auditor_evaluation_passes", s.evaluation_passes,
             "Evaluation passes of the rules over the store."),
        )  # fmt: skip
        for name, value, text in counters:
            yield CounterMetricFamily(name, text, value=value)
        gauges: tuple[tuple[str, float, str], ...] = (
            ("auditor_write_queue_spans", s.pending_spans, "Spans waiting for a commit."),
            ("auditor_store_size_bytes", s.store_bytes,
             "Size of the store file and its write-ahead log."),
            ("auditor_ready", int(s.ready), "1 once /readyz answers ready."),
            ("auditor_evaluation_duration_seconds", s.evaluation_seconds,
             "How long the last evaluation pass took."),
            ("auditor_evaluation_lag_seconds", s.evaluation_lag_seconds,
             "How old the newest evaluated commit was when the last pass ended."),
            ("auditor_evaluation_waiting_seconds", s.evaluation_waiting_seconds,
             "How long the oldest commit not yet evaluated has waited (0: none waits)."),
            ("auditor_alert_outbox_depth", s.outbox_depth, "Alerts waiting in the outbox."),
        )  # fmt: skip
        for name, value, text in gauges:
            yield GaugeMetricFamily(name, text, value=value)
        failures = CounterMetricFamily(
            "auditor_alert_failures", "Failed alert deliveries, per sink.", labels=["sink"]
        )
        for sink, count in sorted(s.alert_failures.items()):
            failures.add_metric([sink], count)
        yield failures
        findings = GaugeMetricFamily(
            "auditor_findings",
            "Findings kept in the store, per rule, kind and state.",
            labels=["rule", "kind", "state"],
        )
        for rule, kind, state, count in s.findings:
            findings.add_metric([rule, kind, state], count)
        yield findings
        histogram = HistogramMetricFamily(
            "auditor_request_duration_seconds",
            "Time to answer a request, per protocol (http, grpc), endpoint and status code.",
            labels=["protocol", "endpoint", "code"],
        )
        for key, values in sorted(s.latencies.items()):
            cumulative: list[tuple[str, float]] = []
            running = 0.0
            for bound, observed in zip((*BUCKETS, float("inf")), values[:-1], strict=True):
                running += observed
                cumulative.append((_bound(bound), running))
            histogram.add_metric(list(key), cumulative, sum_value=values[-1])
        yield histogram


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def render(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(snapshot))
    return bytes(generate_latest(registry))
