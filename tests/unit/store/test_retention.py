"""Retention drops old spans in the background, never those an unresolved finding cites."""

from __future__ import annotations

from pathlib import Path

from auditor.clock import FixedClock
from auditor.engine.catalog import load_catalog
from auditor.engine.loop import EvaluationLoop
from auditor.otlp.otlpjson import decode_json_object
from auditor.rules.testing import BASE_TIME_NS, spans_to_request
from auditor.store.duck import DuckStore

RULE = """
rules:
  - id: email
    severity: high
    jobs: {system: celery}
    expect: {effect: email.sent, within: 1m}
"""
DAY_S = 86_400


def _run(trace: str, job: str, start: str) -> dict:
    return {
        "trace": trace, "span": f"run-{job}", "name": "run/tasks.send", "kind": "consumer",
        "start": start, "end": start,
        "attributes": {"celery.task_name": "tasks.send", "messaging.message.id": job,
                       "celery.state": "SUCCESS"},
    }  # fmt: skip


def _confirm(trace: str, job: str, start: str) -> dict:
    return {
        "trace": trace, "span": f"mail-{job}", "parent": f"run-{job}",
        "name": "side_effect.confirm", "start": start, "end": start,
        "attributes": {"side_effect.name": "email.sent", "job.id": job},
    }  # fmt: skip


def _traces(store: DuckStore) -> set[str]:
    rows = store.con.execute('SELECT DISTINCT "TraceId" FROM otel_traces').fetchall()
    return {r[0] for r in rows}


def test_old_spans_go_unless_an_open_finding_cites_them(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    clock = FixedClock(BASE_TIME_NS + 10 * DAY_S * 10**9)  # ten days after the first spans
    with DuckStore(":memory:", clock=clock) as store:
        spans = [
            # old and honest, but its confirmation is the lie's nearest miss: cited, kept
            _run("old-honest", "j1", "0s"), _confirm("old-honest", "j1", "0s"),
            _run("old-lie", "j2", "1s"),  # old, a lie: its finding stays open
            {"trace": "old-noise", "span": "n1", "name": "GET /health", "start": "2s",
             "end": "2s"},
            {"trace": "old-noise", "span": "n2", "parent": "n1", "name": "SELECT 1",
             "start": "2s", "end": "2s"},
            _run("new-honest", "j3", f"{10 * DAY_S - 5}s"),
            _confirm("new-honest", "j3", f"{10 * DAY_S - 5}s"),
        ]  # fmt: skip
        store.insert(decode_json_object(spans_to_request(spans)).to_arrow())
        loop = EvaluationLoop(
            store, load_catalog([rules], packs=False), interval_s=1, clock=clock,
            retention_s=7 * DAY_S,
        )  # fmt: skip
        assert loop.run_once()
        before = _traces(store)
        assert len(before) == 4
        dropped = loop.retain()

        assert dropped == 2  # the old trace no finding cites
        kept = _traces(store)
        assert len(kept) == 3
        open_traces = {
            r[0] for r in store.con.execute(
                "SELECT trace_id FROM findings WHERE state = 'open'").fetchall()
        }  # fmt: skip
        assert open_traces and open_traces <= kept  # the lie's proof is still there
        cited = {
            r[0] for r in store.con.execute(
                "SELECT unnest(json_extract_string(evidence, '$[*].trace_id')) FROM findings"
            ).fetchall()
        }  # fmt: skip
        assert cited == kept  # the lie's own trace and its nearest misses before and after
        assert loop.retain() == 0  # at most once a minute


def test_no_retention_keeps_everything(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    clock = FixedClock(BASE_TIME_NS + 100 * DAY_S * 10**9)
    with DuckStore(":memory:", clock=clock) as store:
        spans = [_run("t", "j1", "0s")]
        store.insert(decode_json_object(spans_to_request(spans)).to_arrow())
        loop = EvaluationLoop(store, load_catalog([rules], packs=False), 1, clock=clock)
        assert loop.retain() == 0
        assert len(_traces(store)) == 1


def test_the_rows_derived_from_dropped_spans_go_with_them(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    clock = FixedClock(BASE_TIME_NS + 10 * DAY_S * 10**9)
    with DuckStore(":memory:", clock=clock) as store:
        spans = [
            _run("old-honest", "j1", "0s"), _confirm("old-honest", "j1", "0s"),
            _run("new-honest", "j3", f"{10 * DAY_S - 5}s"),
            _confirm("new-honest", "j3", f"{10 * DAY_S - 5}s"),
        ]  # fmt: skip
        store.insert(decode_json_object(spans_to_request(spans)).to_arrow())
        loop = EvaluationLoop(
            store, load_catalog([rules], packs=False), interval_s=1, clock=clock,
            retention_s=7 * DAY_S,
        )  # fmt: skip
        assert loop.run_once()  # the first pass keeps the derived rows of both jobs

        def derived(table: str) -> list[tuple[str, str]]:
            rows = store.con.execute(f"SELECT job_id, trace_id FROM derived.{table} ORDER BY 1")
            return [(str(j), str(t)) for j, t in rows.fetchall()]

        assert [j for j, _ in derived("job_runs")] == ["j1", "j3"]
        assert [j for j, _ in derived("effects")] == ["j1", "j3"]
        assert loop.retain() == 2
        assert [j for j, _ in derived("job_runs")] == ["j3"]
        assert [j for j, _ in derived("effects")] == ["j3"]
