"""A store holding the Celery capture and the findings of its rules, as ``audit serve`` keeps
them (``origin = serve``), at a fixed time; and a stand-in for the running server that the
API service asks for its numbers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.api.metrics import Latencies
from auditor.api.service import AlertStats, ApiService
from auditor.clock import FixedClock, naive_utc
from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.evaluate import evaluate
from auditor.receivers.files import ingest_files
from auditor.store.duck import DuckStore
from auditor.store.findings import save_findings

REPO = Path(__file__).resolve().parents[3]
CAPTURE = REPO / "tests/data/captures/celery/traces.jsonl"
RULES = REPO / "tests/data/fixtures/api/celery_shop.yaml"
FINDINGS = 8
NOW = datetime(2026, 12, 1, 12, 0, 0)


class FakeHost:
    """What ``ApiService`` reads of ``auditor.server.Server``."""

    def __init__(self, store: DuckStore, catalog: Catalog, clock: FixedClock) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.latencies = Latencies()
        self.ready = (True, "")
        self.alerts = AlertStats()
        self.evaluation: dict[str, Any] | None = {
            "passes": 3, "last_seconds": 0.25, "lag_s": 0.5, "waiting_s": 4.0,
        }  # fmt: skip

    def health(self) -> dict[str, Any]:
        return {
            "store": self.store.path, "uptime_s": 12.5, "requests": 5, "spans_accepted": 42,
            "spans_rejected": 1, "spans_stored": 40, "spans_deduplicated": 2, "commits": 5,
            "pending_spans": 0, "workers": 2,
        }  # fmt: skip

    def readiness(self) -> tuple[bool, str]:
        return self.ready

    def evaluation_stats(self) -> dict[str, Any] | None:
        return self.evaluation

    def alert_stats(self) -> AlertStats:
        return self.alerts


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog([RULES])


@pytest.fixture
def store(catalog: Catalog) -> Iterator[DuckStore]:
    clock = FixedClock.at(NOW)
    with DuckStore(":memory:", clock=clock) as store:
        ingest_files(store, [str(CAPTURE)])
        evaluation = evaluate(store.con, catalog)
        save_findings(
            store.con, evaluation.findings, "serve", naive_utc(clock.now()),
            [r.id for r in catalog.enabled_rules()],
        )  # fmt: skip
        yield store


@pytest.fixture
def host(store: DuckStore, catalog: Catalog) -> FakeHost:
    return FakeHost(store, catalog, FixedClock.at(NOW))


@pytest.fixture
def service(host: FakeHost) -> ApiService:
    return ApiService(host)
