"""``audit scan --db`` over a store that a real ``audit serve`` filled from real workers.

For Celery, RQ and BullMQ, the systems harness (``tests/systems/harness.py``) runs every
scenario against real brokers, real worker processes with their own OpenTelemetry
instrumentation and a real SMTP server, exporting OTLP/HTTP to the product's ``audit serve``
(temporary DuckDB store). Once the server has drained and stopped, ``audit scan --db`` with
the docs/design.md-format rule files of ``tests/data/rules/scan/`` must report exactly the ground
truth *that run* produced: its own, fresh job ids, not the recorded captures'.

One harness run per system (module-scoped), shared by the assertions. Needs Redis on
127.0.0.1:6379 (DBs 13-15 are flushed) and, for BullMQ, Node 20 + npm.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtpd  # noqa: F401 - the integration test needs it installed
import celery  # noqa: F401 - the integration test needs it installed
import duckdb
import pytest
import rq  # noqa: F401 - the integration test needs it installed

from tests.systems.audit_serve import audit_serve
from tests.systems.harness import JobRecord, run_system
from tests.unit.engine.scanning import (
    SCAN_RULES,
    ground_truth_entries,
    load_yaml,
    pairs_of,
    precision_recall,
    scan,
)

pytestmark = pytest.mark.integration


# Redis and Node are provided by scripts/services and scripts/test: a test that cannot reach
# them fails (it never skips).

_PACKS = {
    rule["id"]
    for path in (SCAN_RULES.parents[2].parent / "rules" / "packs").glob("*.yaml")
    for rule in load_yaml(path)["rules"]
}

SYSTEMS = ["celery", "rq", "bullmq"]


@dataclass(frozen=True)
class Run:
    system: str
    db: Path
    records: list[JobRecord]
    workdir: Path

    def truth(self) -> set[tuple[str, str]]:
        return pairs_of(r.ground_truth() for r in self.records)


@pytest.fixture(scope="module", params=SYSTEMS)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    system = request.param
    tmp = tmp_path_factory.mktemp(f"scan-{system}")
    db = tmp / "store.duckdb"
    with audit_serve(db) as endpoint:
        records = run_system(system, endpoint, None, tmp / "run")
    yield Run(system, db, records, tmp / "run")


def test_the_run_wrote_its_ground_truth_with_lies_of_several_kinds(run: Run) -> None:
    written = ground_truth_entries(run.workdir / "ground_truth.json")

    assert written == [r.ground_truth() for r in run.records]
    assert len({kind for _, kind in run.truth()}) >= 4


@pytest.mark.parametrize("variant", ["design", "key", "span"])
def test_scan_of_the_store_finds_exactly_the_lies_of_this_run(
    run: Run, variant: str, tmp_path: Path
) -> None:
    rules = SCAN_RULES / f"{run.system}-{variant}.yaml"

    result = scan(["--db", run.db, "--rules", rules], tmp_path)

    truth = run.truth()
    found = result.pairs()
    assert found == truth, f"missing {truth - found}, not lies {found - truth}"
    assert precision_recall(found, truth) == (1.0, 1.0)
    assert result.code == 1
    assert result.report["summary"]["inputs"] == [str(run.db)]


def test_the_lies_found_are_this_runs_jobs_not_the_recorded_captures(
    run: Run, tmp_path: Path
) -> None:
    # Trace ids are random 128-bit values: none of this run's findings may point into the
    # recorded capture (BullMQ job ids restart at 1 on every run, so ids alone cannot tell).
    result = scan(["--db", run.db, "--rules", SCAN_RULES / f"{run.system}-design.yaml"], tmp_path)
    recorded = (SCAN_RULES.parents[1] / "captures" / run.system / "traces.jsonl").read_text()
    traces = {f["trace_id"] for f in result.findings}

    assert traces, "the run produced no findings to compare"
    assert not {t for t in traces if t in recorded}


def test_scan_keeps_this_runs_findings_in_the_store(run: Run, tmp_path: Path) -> None:
    rules = SCAN_RULES / f"{run.system}-design.yaml"
    rule_ids = {rule["id"] for rule in load_yaml(rules)["rules"]}

    result = scan(["--db", run.db, "--rules", rules], tmp_path)

    con = duckdb.connect(str(run.db), read_only=True)
    try:
        rows = con.execute(
            "SELECT rule_id, job_id, kind, state, fingerprint FROM findings WHERE origin = 'scan'"
        ).fetchall()
    finally:
        con.close()
    kept = [row for row in rows if row[0] in rule_ids or row[0] in _PACKS]
    kept = [row for row in kept if row[3] != "resolved"]
    assert {(job_id, kind) for _, job_id, kind, _, _ in kept} == run.truth()
    assert {state for _, _, _, state, _ in kept} == {"open"}
    assert {fp for *_, fp in kept} == {f["fingerprint"] for f in result.findings}
