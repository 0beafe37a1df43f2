"""The ``audit scan`` and ``audit rules`` contract that scripts and CI rely on (docs/design.md,
"The CLI"): exit codes, the JSON fields, valid SARIF, JUnit test cases per (rule, job),
baselines, ``--as-of``, findings kept in a ``--db`` store, and the rule tooling's exit codes
and messages. Every call goes through the ``audit`` entry point, in-process.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest

from auditor.cli.main import main
from tests.unit.engine.scanning import (
    FIXTURES,
    REPO,
    SCAN_RULES,
    capture,
    ground_truth,
    ground_truth_entries,
    scan,
    scan_once,
)

CLI = FIXTURES / "cli"
DESIGN = SCAN_RULES / "celery-design.yaml"
CELERY = capture("celery")
SARIF_SCHEMA = REPO / "tests" / "unit" / "reports" / "schemas" / "sarif-schema-2.1.0.json"


# The built-in packs are left out where they are not the point: a scan is ~40% faster without.
RULES = ["--rules", DESIGN, "--no-packs"]


def _design_scan() -> Any:
    return scan_once([*RULES, CELERY])


def _finding(kind: str) -> dict[str, Any]:
    (found,) = [f for f in _design_scan().findings if f["kind"] == kind]
    return found


def _clean_celery_subset(path: Path) -> Path:
    """The Celery capture with only the traces of jobs that told the truth."""
    honest = {e["job_id"] for e in ground_truth_entries(CELERY.parent / "ground_truth.json")}
    honest -= {job_id for job_id, _ in ground_truth("celery")}
    lines = []
    for line in CELERY.read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        spans = [
            s for rs in request["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
        ]
        keep = {
            s["traceId"]
            for s in spans
            for a in s.get("attributes", [])
            if a["value"].get("stringValue") in honest
        }
        for rs in request["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                ss["spans"] = [s for s in ss["spans"] if s["traceId"] in keep]
        lines.append(json.dumps(request))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ exit codes


def test_a_scan_of_jobs_that_all_told_the_truth_exits_0_with_no_findings(tmp_path: Path) -> None:
    clean = _clean_celery_subset(tmp_path / "clean.jsonl")

    result = scan([*RULES, clean], tmp_path)

    assert result.code == 0
    assert result.findings == []
    # (rule, job) checks: the email rule judges the 4 done jobs (two ok, one retried then
    # ok, one redelivered); the complete_within rule judges all 5 enqueued ones (the failed
    # one too: it ran)
    assert result.report["summary"]["jobs_checked"] == 4 + 5
    assert result.report["summary"]["spans"] > 0


def test_a_scan_that_finds_lies_exits_1() -> None:
    assert _design_scan().code == 1


def test_fail_on_critical_exits_0_when_every_finding_is_high(tmp_path: Path) -> None:
    result = scan([*RULES, CELERY, "--fail-on", "critical"], tmp_path)

    assert result.code == 0
    assert {f["severity"] for f in result.findings} == {"high"}
    assert result.report["summary"]["failing"] == 0
    assert result.report["summary"]["findings"] == len(_design_scan().findings)


def test_a_broken_rule_file_exits_2_naming_its_file_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = CLI / "broken_rule_file.yaml"

    result = scan(["--rules", broken, CELERY], tmp_path)

    err = capsys.readouterr().err
    assert result.code == 2
    assert result.report == {}  # nothing evaluated, no report written
    assert f"{broken}:8:25: checks entry must be one of" in err
    assert "'delivered'" in err


def test_an_input_file_that_cannot_be_read_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = scan([*RULES, tmp_path / "missing.jsonl"], tmp_path)

    assert result.code == 3
    assert "missing.jsonl" in capsys.readouterr().err


def test_an_input_with_bad_lines_exits_3_even_when_the_rest_holds_lies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        CELERY.read_text(encoding="utf-8") + '{"resourceSpans": [\nnot json at all\n',
        encoding="utf-8",
    )

    result = scan([*RULES, mixed], tmp_path)

    assert result.code == 3  # a verdict on part of the input would be a lie
    assert "mixed.jsonl:6" in capsys.readouterr().err
    assert result.pairs() == ground_truth("celery")  # the readable part is still reported


# ------------------------------------------------------------------------------ formats

CONTRACT_FIELDS = (
    "rule_id", "kind", "severity", "state", "system", "job_id", "job_name", "effect_key",
    "trace_id", "fingerprint", "message",
)  # fmt: skip


def test_json_findings_carry_the_contract_fields() -> None:
    result = _design_scan()

    assert set(result.report) >= {"findings", "summary"}
    assert result.findings
    for finding in result.findings:
        missing = [k for k in CONTRACT_FIELDS if k not in finding]
        assert not missing, missing
        assert all(isinstance(finding[k], str) for k in CONTRACT_FIELDS)
        assert finding["fingerprint"] and finding["message"] and finding["trace_id"]
    summary = result.report["summary"]
    assert summary["findings"] == len(result.findings) == summary["failing"]
    assert summary["by_kind"] == {
        "duplicate_effect": 1, "failed_effect": 1, "lost_job": 1, "premature_done": 2,
        "unconfirmed_done": 1,
    }  # fmt: skip


def test_sarif_output_of_a_real_capture_validates_against_the_sarif_2_1_0_schema(
    tmp_path: Path,
) -> None:
    out = tmp_path / "scan.sarif"
    code = main(["scan", *map(str, RULES), str(CELERY), "-f", "sarif", "-o", str(out)])

    document = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert code == 1
    assert not errors, errors
    (run,) = document["runs"]
    assert len(run["results"]) == len(_design_scan().findings)
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} <= rule_ids


def test_junit_output_has_a_test_case_per_rule_and_job_and_fails_the_lying_ones(
    tmp_path: Path,
) -> None:
    out = tmp_path / "scan.xml"
    code = main(["scan", *map(str, RULES), str(CELERY), "-f", "junit", "-o", str(out)])

    root = ET.parse(out).getroot()
    cases = [(s.get("name"), c) for s in root.iter("testsuite") for c in s.iter("testcase")]
    failed = {
        (suite, case.get("name")) for suite, case in cases if case.find("failure") is not None
    }
    assert code == 1
    assert root.get("failures") == str(len(failed))
    assert root.get("tests") == str(len(cases))
    for finding in _design_scan().findings:
        assert any(
            suite == finding["rule_id"] and finding["job_id"] in name for suite, name in failed
        ), finding
    assert len(failed) == len(_design_scan().findings)
    truth = ground_truth_entries(CELERY.parent / "ground_truth.json")
    honest = [e for e in truth if e["expected_kind"] is None and e["final_state"] == "done"]
    passing = {c.get("name") for suite, c in cases if (suite, c.get("name")) not in failed}
    for job in honest:  # every honest done job is a passing case of the email rule
        assert f"celery {job['job_name']} {job['job_id']}" in passing


# ------------------------------------------------------------------------------ baselines


def test_a_written_baseline_suppresses_every_finding_of_the_same_input(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"

    first = scan([*RULES, CELERY, "--write-baseline", baseline], tmp_path, "first.json")
    second = scan([*RULES, CELERY, "--baseline", baseline], tmp_path, "second.json")

    assert first.code == 1 and len(first.findings) == 6
    entries = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    assert sum(e["count"] for e in entries) == 6
    assert {(e["rule_id"], e["kind"]) for e in entries} == {
        (f["rule_id"], f["kind"]) for f in first.findings
    }
    assert second.code == 0
    assert second.findings == []
    assert second.report["summary"]["baselined"] == 6


def _with_new_job_ids(capture: Path, out: Path) -> Path:
    """The capture as a new CI run would record it: every job id (and trace) replaced."""
    text = capture.read_text(encoding="utf-8")
    for entry in json.loads((capture.parent / "ground_truth.json").read_text(encoding="utf-8")):
        text = text.replace(entry["job_id"], f"rerun-{entry['job_id'][::-1]}")
    out.write_text(text, encoding="utf-8")
    return out


def test_a_baseline_written_yesterday_accepts_todays_run_with_new_job_ids(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    first = scan([*RULES, CELERY, "--write-baseline", baseline], tmp_path, "first.json")
    today = _with_new_job_ids(CELERY, tmp_path / "today.jsonl")

    unfiltered = scan([*RULES, today], tmp_path, "unfiltered.json")
    second = scan([*RULES, today, "--baseline", baseline], tmp_path, "second.json")

    # the same lies, under new job ids: nothing new to report
    assert {f["job_id"] for f in unfiltered.findings}.isdisjoint(
        {f["job_id"] for f in first.findings}
    )
    assert len(unfiltered.findings) == len(first.findings) == 6
    assert (second.code, second.findings) == (0, [])
    assert second.report["summary"]["baselined"] == 6


# ------------------------------------------------------------------------------ --as-of


def test_as_of_inside_the_grace_window_makes_unconfirmed_findings_pending(tmp_path: Path) -> None:
    done_ns = _finding("unconfirmed_done")["done_at_ns"]
    as_of = f"{(done_ns + 60 * 10**9) / 1e9:.3f}"  # one minute after done; the grace is 5m

    result = scan([*RULES, CELERY, "--as-of", as_of], tmp_path)

    states = {f["kind"]: f["state"] for f in result.findings}
    assert states["unconfirmed_done"] == "pending"
    assert states["failed_effect"] == "pending"
    assert states["lost_job"] == "pending"  # enqueued less than complete_within (15m) ago
    assert states["premature_done"] == "open"  # nothing can still arrive to excuse these
    assert states["duplicate_effect"] == "open"


def _confirmation_request(finding: dict[str, Any], effect_key: str) -> dict[str, Any]:
    """An OTLP/JSON request with the confirmation the job never exported, in its trace,
    stamped 1 ms before it was marked done (its export was merely late)."""
    at = str(finding["done_at_ns"] - 1_000_000)
    attributes = {
        "side_effect.name": "email.sent",
        "side_effect.key": effect_key,
        "job.id": finding["job_id"],
    }
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "shop-celery-worker"}}
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "shop.jobs", "version": "1.0.0"},
                        "spans": [
                            {
                                "traceId": finding["trace_id"],
                                "spanId": "00000000000000c1",
                                "parentSpanId": finding["span_id"],
                                "name": "side_effect.confirm",
                                "kind": 1,
                                "startTimeUnixNano": at,
                                "endTimeUnixNano": at,
                                "attributes": [
                                    {"key": k, "value": {"stringValue": v}}
                                    for k, v in attributes.items()
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }


def _stored_findings(db: Path) -> dict[tuple[str, str], str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT job_id, kind, state FROM findings").fetchall()
    finally:
        con.close()
    return {(job_id, kind): state for job_id, kind, state in rows}


def test_scan_with_a_store_keeps_findings_and_resolves_one_whose_confirmation_arrived(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.duckdb"
    truth = ground_truth("celery")

    first = scan(["--db", db, *RULES, CELERY], tmp_path, "first.json")

    assert first.pairs() == truth
    stored = _stored_findings(db)
    assert set(stored) == truth
    assert set(stored.values()) == {"open"}

    unconfirmed = next(f for f in first.findings if f["kind"] == "unconfirmed_done")
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps(_confirmation_request(unconfirmed, "ORD-1003")) + "\n")
    assert main(["ingest", "--db", str(db), str(late)]) == 0
    second = scan(["--db", db, *RULES], tmp_path, "second.json")  # the store alone

    resolved = (unconfirmed["job_id"], "unconfirmed_done")
    assert second.pairs() == truth - {resolved}
    assert second.code == 1
    assert second.report["summary"]["inputs"] == [str(db)]
    stored = _stored_findings(db)
    assert stored[resolved] == "resolved"
    assert {pair: state for pair, state in stored.items() if pair != resolved} == {
        pair: "open" for pair in truth - {resolved}
    }


def test_rules_test_exits_0_when_every_rule_unit_test_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rules", "test", str(CLI / "rules_test_passing.yaml")])

    assert code == 0
    assert "1 passed, 0 failed" in capsys.readouterr().err


def test_rules_test_exits_1_and_shows_the_unexpected_finding_when_a_test_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rules", "test", str(CLI / "rules_test_failing.yaml")])

    out, err = capsys.readouterr()
    assert code == 1
    assert "FAIL" in out and "found, not expected" in out and "'job_id': 'j2'" in out
    assert "0 passed, 1 failed" in err


def test_rules_test_exits_2_on_a_broken_test_file_naming_the_place(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = CLI / "rules_test_broken.yaml"

    code = main(["rules", "test", str(path)])

    assert code == 2
    assert f"{path}:7:40: unknown key 'kinds'" in capsys.readouterr().err


def test_rules_lint_reports_a_where_naming_an_unknown_column_at_its_file_line_and_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = CLI / "where_unknown_column.yaml"

    code = main(["rules", "lint", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:8:14: rule 'notify-email-confirmed' does not run" in err
    assert "QueueName" in err


def test_rules_explain_prints_sql_with_bound_parameters_not_the_rule_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rules", "explain", "notify-email-confirmed", "--rules", str(DESIGN)])

    out = capsys.readouterr().out
    assert code == 0
    comments = [line for line in out.splitlines() if line.startswith("-- ")]
    assert comments[0].startswith("-- rule notify-email-confirmed (")
    assert "$p1 = 'celery', $p2 = 'shop.send_*', $p3 = 'email.sent'" in comments[-1]
    sql = "\n".join(line for line in out.splitlines() if not line.startswith("--"))
    for check in ("confirmed", "before_done", "at_most_once", "effect_ok", "judged_count"):
        assert f"'{check}' AS \"check\"" in sql  # one statement, every check a branch of it
    assert "$p1" in sql and "$p2" in sql and "$p3" in sql
    assert "'celery'" not in sql and "shop.send_" not in sql and "email.sent" not in sql


def test_a_scan_with_other_rules_does_not_resolve_the_findings_of_rules_it_did_not_run(
    tmp_path: Path,
) -> None:
    # Resolved means the lie was excused (its confirmation arrived) or a person resolved
    # it. A later scan of the same store with another rule file evaluates none of the first
    # file's rules, so it knows nothing new about their findings.
    db = tmp_path / "store.duckdb"
    span_rules = SCAN_RULES / "celery-span.yaml"
    first = scan(["--db", db, "--rules", span_rules, "--no-packs", CELERY], tmp_path, "a.json")
    assert first.pairs("notify-smtp-accepted")

    scan(["--db", db, *RULES], tmp_path, "b.json")

    con = duckdb.connect(str(db), read_only=True)
    try:
        states = con.execute(
            "SELECT DISTINCT state FROM findings WHERE rule_id = 'notify-smtp-accepted'"
        ).fetchall()
    finally:
        con.close()
    assert states == [("open",)]
