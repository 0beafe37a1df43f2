"""The same rules on DuckDB and on chDB give the same findings.

Every capture of a real worker and every span fixture under tests/data (and the rule tests'
spans), with every built-in rule (the packs, the system profiles) and the rule files that go
with them, is scanned twice: from the files into DuckDB, and from ClickHouse's ``otel_traces``
(chDB, filled with ``audit ingest --backend chdb://``'s path: the exporter's own table). The
findings must be identical, down to each finding's JSON (fingerprint, kind, state, message,
evidence), and so must what the rules judged.

Marked ``clickhouse``: these run where the ``[clickhouse]`` extra is installed (``.ci/run``
has the step that installs it); elsewhere they are deselected.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from auditor.cli.scan import parse_as_of
from auditor.engine.catalog import load_catalog
from auditor.engine.scan import ScanRequest, ScanResult, run_scan
from auditor.rules.testing import spans_to_request
from auditor.store.backend import parse_backend
from auditor.store.clickhouse import ClickHouseStore

pytestmark = pytest.mark.clickhouse

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
CAPTURES = sorted((DATA / "captures").glob("*/traces.jsonl"))
EXTRA_RULES = [
    REPO / "rules" / "examples" / "email.yaml",
    DATA / "fixtures" / "compiler" / "representative.yaml",
]
RULE_TESTS = [
    REPO / "rules" / "examples" / "email_test.yaml",
    DATA / "fixtures" / "cli" / "rules_test_passing.yaml",
    DATA / "fixtures" / "cli" / "rules_test_failing.yaml",
    DATA / "fixtures" / "sidekiq" / "shop.yaml",
    DATA / "fixtures" / "temporal" / "shop.yaml",
]


def _rule_test_cases() -> list[tuple[str, Path, dict]]:
    cases = []
    for path in RULE_TESTS:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for index, test in enumerate(spec["tests"]):
            if test.get("spans"):
                cases.append((f"{path.parent.name}/{path.name}#{index}", path, test))
    return cases


def _scan(files: list[str], rules: list[Path], as_of_ns: int | None, backend=None) -> ScanResult:
    catalog = load_catalog(rules, packs=True)
    request = ScanRequest(files=tuple(files), backend=backend, as_of_ns=as_of_ns)
    return run_scan(request, catalog)


def _same(files: list[str], rules: list[Path], tmp_path: Path, as_of_ns: int | None = None) -> int:
    """Scan ``files`` on DuckDB and through chDB; assert the findings are the same."""
    on_duckdb = _scan(files, rules, as_of_ns)
    backend = parse_backend(f"chdb://{tmp_path / 'chdb'}")
    on_chdb = _scan(files, rules, as_of_ns, backend)
    duck_json = sorted(on_duckdb.findings.table.column("json").to_pylist())
    ch_json = sorted(on_chdb.findings.table.column("json").to_pylist())
    assert ch_json == duck_json
    assert on_chdb.report.judged == on_duckdb.report.judged
    assert on_chdb.report.job_runs == on_duckdb.report.job_runs
    assert on_chdb.report.spans == on_duckdb.report.spans
    return len(duck_json)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.parent.name)
def test_a_real_worker_capture_gives_the_same_findings_on_duckdb_and_chdb(capture, tmp_path):
    found = _same([str(capture)], EXTRA_RULES, tmp_path)
    assert found > 0  # the captures hold lying jobs: an empty comparison proves nothing


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.parent.name)
def test_pending_states_are_the_same_on_duckdb_and_chdb(capture, tmp_path):
    """As of the last span's start, grace windows are still open: states are pending."""
    last = max(
        int(span["startTimeUnixNano"])
        for line in capture.read_text().splitlines()
        if line.strip()
        for rs in json.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    )
    _same([str(capture)], EXTRA_RULES, tmp_path, as_of_ns=last)


def test_the_api_fixture_rules_give_the_same_findings(tmp_path):
    rules = [DATA / "fixtures" / "api" / "celery_shop.yaml"]
    assert _same([str(DATA / "captures" / "celery" / "traces.jsonl")], rules, tmp_path) > 0


def test_an_otlp_json_fixture_gives_the_same_findings(tmp_path):
    _same([str(DATA / "otlp" / "trace.json")], EXTRA_RULES, tmp_path)


@pytest.mark.parametrize(
    ("name", "path", "test"), _rule_test_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_rule_tests_spans_give_the_same_findings(name, path, test, tmp_path):
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = [path.parent / p for p in spec.get("rule_files", [])]
    spans = tmp_path / "spans.jsonl"
    spans.write_text(json.dumps(spans_to_request(test["spans"])) + "\n")
    as_of = parse_as_of(test["as_of"]) if "as_of" in test else None
    _same([str(spans)], rules, tmp_path, as_of_ns=as_of)


def test_a_span_sent_twice_is_stored_once_in_clickhouse(tmp_path):
    backend = parse_backend(f"chdb://{tmp_path / 'chdb'}")
    capture = DATA / "captures" / "celery" / "traces.jsonl"
    from auditor.receivers.files import ingest_files

    with ClickHouseStore(backend) as store:
        first = ingest_files(store, [str(capture), str(capture)])
        again = ingest_files(store, [str(capture)])
        count = store.span_count()
    assert first.spans_stored == count == first.spans_received // 2
    assert again.spans_stored == 0


def test_the_table_is_the_exporters(tmp_path):
    """otel_traces has the clickhouseexporter's columns and types, and no column of ours."""
    backend = parse_backend(f"chdb://{tmp_path / 'chdb'}")
    with ClickHouseStore(backend) as store:
        described = store._con.arrow("DESCRIBE TABLE otel_traces").to_pylist()
    columns = {row["name"]: row["type"] for row in described}
    assert columns["Timestamp"] == "DateTime64(9)"
    assert columns["SpanAttributes"] == "Map(LowCardinality(String), String)"
    assert columns["Events.Attributes"] == "Array(Map(LowCardinality(String), String))"
    assert columns["Links.TraceId"] == "Array(String)"
    assert columns["Duration"] == "UInt64"
    assert "Flags" not in columns and "BatchId" not in columns


def test_rows_a_collector_wrote_twice_are_judged_once(tmp_path):
    """The exporter retries whole batches into a MergeTree that keeps both copies; a scan
    reads each (TraceId, SpanId) once, so a repeated confirmation is not a duplicate effect."""
    from auditor.receivers.files import ingest_files

    capture = DATA / "captures" / "celery" / "traces.jsonl"
    backend = parse_backend(f"chdb://{tmp_path / 'chdb'}")
    with ClickHouseStore(backend) as store:
        ingest_files(store, [str(capture)])
        once = store.span_count()
        # what a retried exporter batch leaves: every row again, as the exporter inserts it
        store._con.command("INSERT INTO otel_traces SELECT * FROM otel_traces")
        assert store.span_count() == 2 * once
    on_chdb = _scan([], EXTRA_RULES, None, backend)
    on_duckdb = _scan([str(capture)], EXTRA_RULES, None)
    assert on_chdb.report.spans == once
    assert sorted(on_chdb.findings.table.column("json").to_pylist()) == sorted(
        on_duckdb.findings.table.column("json").to_pylist()
    )
