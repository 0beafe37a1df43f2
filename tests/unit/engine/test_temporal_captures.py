"""``audit scan`` over the recorded Temporal captures reports exactly their ground truth.

``tests/data/captures/temporal/<style>/`` were recorded by ``tests/temporal/run.py`` from a
real dev server and worker (``tracing``: ``TracingInterceptor``; ``plugin``:
``OpenTelemetryPlugin(add_temporal_spans=True)``), with ``probes.adapters.temporal``; the
ground truth came from the real effects (mail accepted per key, activity attempts, workflow
ends). The integration test ``tests/integration/scan/test_temporal.py`` makes fresh ones.

Findings are compared as (workflow id, job name, kind); each lie must be reported once.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.unit.engine.scanning import CAPTURES, DATA, precision_recall, scan_once

STYLES = ("tracing", "plugin")
USER_RULES = DATA / "rules" / "temporal" / "orders.yaml"


def _truth(style: str) -> set[tuple[str, str, str]]:
    entries = json.loads((CAPTURES / "temporal" / style / "ground_truth.json").read_text())
    return {(e["workflow_id"], e["job_name"], e["kind"]) for e in entries}


@pytest.mark.parametrize("with_user_rules", [False, True], ids=["packs", "packs+user-rules"])
@pytest.mark.parametrize("style", STYLES)
def test_a_temporal_capture_scans_to_exactly_its_lies(style: str, with_user_rules: bool) -> None:
    rules = ["--rules", USER_RULES, "--strict"] if with_user_rules else []
    result = scan_once([*rules, CAPTURES / "temporal" / style / "traces.jsonl"])

    found = [(f["job_id"].split("/")[0], f["job_name"], f["kind"]) for f in result.findings]
    truth = _truth(style)
    assert len(found) == len(set(found)), f"a lie reported twice: {Counter(found)}"
    assert set(found) == truth, f"missing {truth - set(found)}, not lies {set(found) - truth}"
    assert precision_recall(set(found), truth) == (1.0, 1.0)
    assert result.code == 1


@pytest.mark.parametrize("style", STYLES)
def test_temporal_jobs_are_named_by_activity_and_workflow_type(style: str) -> None:
    result = scan_once([CAPTURES / "temporal" / style / "traces.jsonl"])

    names = {f["job_name"] for f in result.findings}
    assert names == {"send_receipt", "notify_warehouse", "OrderWorkflow"}
    lost = {f["job_name"] for f in result.findings if f["kind"] == "lost_job"}
    assert lost == {"send_receipt", "OrderWorkflow"}  # an unpolled queue; never picked up
