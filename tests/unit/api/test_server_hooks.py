"""What the API reads of the running server: readiness, the evaluation's numbers (with how
long the oldest unevaluated commit has waited) and the alerting outbox's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.api.service import AlertStats
from auditor.clock import FixedClock
from auditor.config import Settings
from auditor.receivers.files import ingest_files
from auditor.server import Server
from tests.unit.api.conftest import CAPTURE, NOW


class FakeAlerting:
    def stats(self) -> dict[str, Any]:
        return {
            "sinks": {"ops": {"type": "slack", "pending": 2, "sent": 5, "failed": 1},
                      "pager": {"type": "pagerduty", "pending": 1, "sent": 0, "failed": 0}},
            "pending": 3,
            "running": True,
        }  # fmt: skip


def test_alert_stats_read_the_outbox_once_wired_in(tmp_path: Path) -> None:
    server = Server(Settings(store=tmp_path / "s.duckdb", evaluation_interval_s=0))
    try:
        assert server.alert_stats() == AlertStats()
        server.alerting = FakeAlerting()
        assert server.alert_stats() == AlertStats(3, {"ops": 1, "pager": 0})
        assert server.evaluation_stats() is None
        assert server.readiness() == (True, "")  # no evaluation: ready once open
    finally:
        server.store.close()


def test_ready_after_the_first_evaluation_of_a_store_with_spans(tmp_path: Path) -> None:
    clock = FixedClock.at(NOW)
    settings = Settings(store=tmp_path / "s.duckdb", evaluation_interval_s=3600)
    server = Server(settings, clock)
    try:
        assert server.readiness() == (True, "")  # empty: nothing to evaluate
    finally:
        server.store.close()
    server = Server(settings, clock)
    try:
        ingest_files(server.store, [str(CAPTURE)])
        clock.advance(30)
        ready, why = server.readiness()
        assert not ready and "first evaluation" in why
        stats = server.evaluation_stats()
        assert stats is not None and stats["passes"] == 0
        assert stats["waiting_s"] == 30.0
        assert server.evaluation is not None
        server.evaluation.run_once()
        assert server.readiness() == (True, "")
        assert server.evaluation_stats()["waiting_s"] == 0.0  # type: ignore[index]
    finally:
        server.store.close()


def test_a_workers_options_never_show_the_token() -> None:
    from auditor.receivers.frontend import WorkerOptions

    options = WorkerOptions(0, "127.0.0.1:4317", "s3cret", 1024, None, 20)
    assert options.token == "s3cret"
    assert "s3cret" not in repr(options)
