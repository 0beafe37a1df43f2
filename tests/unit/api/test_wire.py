"""What both ends of the API agree on: cursors they alone make, findings and rules that
survive the trip as JSON, and a report that survives it as Arrow, rendering to the same
bytes in every format."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from auditor.api.wire import (
    decode_cursor,
    encode_cursor,
    finding_from_json,
    report_from_arrow,
    report_to_arrow,
    rule_from_json,
    rule_to_json,
)
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import evaluate
from auditor.engine.scan import rule_infos
from auditor.findings.report import Report
from auditor.reports import FORMATS, render
from auditor.store.duck import DuckStore


def test_a_cursor_comes_back_as_it_went() -> None:
    cursor = encode_cursor(3, 1_795_859_991_602_941, "0f837a58e5a3b4d42219")
    assert "=" not in cursor
    assert decode_cursor(cursor) == (3, 1_795_859_991_602_941, "0f837a58e5a3b4d42219")


@pytest.mark.parametrize(
    "text",
    ["", "!!!", "e30", base64.urlsafe_b64encode(b'[1, 2]').decode(),
     base64.urlsafe_b64encode(b'[true, 2, "x"]').decode(),
     base64.urlsafe_b64encode(b'[1, 2, 3]').decode(), base64.urlsafe_b64encode(b"\xff").decode()],
)  # fmt: skip
def test_a_cursor_the_api_did_not_make_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(text)


def test_findings_and_rules_survive_json(store: DuckStore, catalog: Catalog) -> None:
    findings = evaluate(store.con, catalog).findings
    for finding in findings:
        assert finding_from_json(json.loads(json.dumps(finding.to_dict()))) == finding
    for info in rule_infos(catalog).values():
        assert rule_from_json(json.loads(json.dumps(rule_to_json(info)))) == info


def test_a_report_survives_arrow_and_renders_the_same(store: DuckStore, catalog: Catalog) -> None:
    evaluation = evaluate(store.con, catalog, list_checked=True)
    report = Report(
        findings=evaluation.findings, rules=rule_infos(catalog), checked=evaluation.checked,
        jobs_checked=evaluation.jobs_checked, inputs=("store.duckdb",), spans=42,
        tool_version="9.9", job_runs=evaluation.job_runs, judged=evaluation.judged,
    )  # fmt: skip
    back, warnings = report_from_arrow(report_to_arrow(report, [{"rule_id": "r", "text": "t"}]))
    assert warnings == [{"rule_id": "r", "text": "t"}]
    assert back.table == report.table
    assert back == dataclasses.replace(report, findings=back.table)
    for fmt in FORMATS:
        assert render(fmt, back) == render(fmt, report), fmt
    with pytest.raises(ValueError, match="could not be read"):
        report_from_arrow(b"not arrow")
