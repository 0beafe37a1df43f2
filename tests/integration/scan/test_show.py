"""``audit show FINGERPRINT``: one finding as a person reads it, from files or a store."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.scan.test_gate import CELERY, DESIGN, audit


def _findings() -> list[dict]:
    return json.loads(audit("scan", CELERY, "--rules", DESIGN, "-f", "json").stdout)["findings"]


def test_show_tells_what_was_expected_what_is_missing_and_draws_the_trace() -> None:
    [lie] = [f for f in _findings() if f["kind"] == "unconfirmed_done"]
    result = audit("show", lie["fingerprint"][:10], CELERY, "--rules", DESIGN)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.splitlines()[0] == f"unconfirmed_done  high  open  fingerprint {lie['fingerprint']}"
    assert "Expected  a confirmation of 'email.sent' belonging to this job run" in text
    assert "Missing   no confirmation was found" in text
    assert lie["job_id"] in text  # the full id, to copy
    assert f"{DESIGN.relative_to(Path.cwd())}:" in text or str(DESIGN) in text
    trace = text.split("Trace ", 1)[1]
    assert f"run/{lie['job_name']}" in trace and "<- job_run" in trace
    assert "-- marked done here" in trace
    # the producer span is the root, the run indented under it
    run_line = next(line for line in trace.splitlines() if "<- job_run" in line)
    producer = next(line for line in trace.splitlines() if "apply_async/" in line)
    assert run_line.index("run/") > producer.index("apply_async/")
    assert "Nearest misses" in text and "email.sent confirmation" in text


def test_show_reads_a_store_as_scan_does(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    assert audit("ingest", CELERY, "--db", store).returncode == 0
    lie = _findings()[0]
    result = audit("show", lie["fingerprint"], "--db", store, "--rules", DESIGN)
    assert result.returncode == 0, result.stderr
    assert lie["message"] in result.stdout


def test_an_unknown_or_ambiguous_fingerprint_is_a_usage_error() -> None:
    unknown = audit("show", "ffffffffffff", CELERY, "--rules", DESIGN)
    assert unknown.returncode == 2
    assert "no finding with fingerprint 'ffffffffffff'" in unknown.stderr
    ambiguous = audit("show", "", CELERY, "--rules", DESIGN)
    assert ambiguous.returncode == 2
