"""Sidekiq (which cannot run here) and Temporal through fixtures that follow their
instrumentation sources (``tests/data/fixtures/{sidekiq,temporal}/shop.yaml``; each file names
the source files its spans follow).

The fixtures are rule unit test files (``audit rules test``): compact spans of a shop run with
honest and lying jobs, and the findings each rule must raise. These tests check what the
profiles derive from those spans (job runs, enqueues, outcomes, attempts) and that every rule
of the fixture's rule file (one per correlation: trace, link, key; and complete_within) raises
exactly the findings the fixture expects.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from auditor.cli.main import main
from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.findings.model import Finding
from auditor.rules.testing import compare
from tests.unit.engine.scanning import FIXTURES, derived, load_yaml, store_with_spans

SIDEKIQ = FIXTURES / "sidekiq" / "shop.yaml"
TEMPORAL = FIXTURES / "temporal" / "shop.yaml"


def _shop_test(path: Path) -> dict[str, Any]:
    """The first test of a fixture file: the whole shop run."""
    return load_yaml(path)["tests"][0]


@cache
def _run(path: Path) -> tuple[dict[str, list[dict[str, Any]]], tuple[Finding, ...]]:
    """Derived tables and findings of a fixture's shop run (evaluated once per session)."""
    catalog = load_catalog([path.parent / "rules.yaml"], packs=False)
    with store_with_spans(_shop_test(path)["spans"]) as store:
        evaluation = evaluate(store.con, catalog, evidence=False)
        tables = derived(store, catalog.profiles)
    return tables, evaluation.findings


def _jid(order: int) -> str:
    """The Sidekiq jid of an order of the fixture (read from its publish span)."""
    for span in _shop_test(SIDEKIQ)["spans"]:
        if span["span"] == f"sk-{order}-pub":
            return span["attributes"]["messaging.message_id"]
    raise AssertionError(f"no publish span for order {order}")


def _assert_rule_raises_what_the_fixture_expects(path: Path, rule_id: str) -> None:
    _, findings = _run(path)
    expected = [e for e in _shop_test(path)["expect"] if e["rule"] == rule_id]
    actual = [f for f in findings if f.rule_id == rule_id]
    outcome = compare(expected, actual)
    assert outcome.passed, f"missing {outcome.missing}; not expected {outcome.unexpected}"
    assert expected  # the fixture does expect lies from every rule


# --------------------------------------------------------------------------------- Sidekiq


def test_the_sidekiq_profile_makes_one_run_per_process_span_with_its_jid_class_and_queue() -> None:
    tables, _ = _run(SIDEKIQ)
    runs = tables["job_runs"]

    assert len(runs) == 8  # 4001-4007, and 4006 twice (its retry); 4008 never ran
    assert {r["system"] for r in runs} == {"sidekiq"}
    assert {r["job_name"] for r in runs} == {"SendOrderConfirmationJob"}
    assert {r["queue"] for r in runs} == {"default"}
    assert {r["span_name"] for r in runs} == {"default process"}
    assert {r["job_id"] for r in runs} == {_jid(n) for n in range(4001, 4008)}


def test_a_sidekiq_run_is_done_unless_its_process_span_failed() -> None:
    tables, _ = _run(SIDEKIQ)
    outcomes = {(r["job_id"], r["attempt"]): r["outcome"] for r in tables["job_runs"]}

    assert outcomes[(_jid(4001), 1)] == "done"
    assert outcomes[(_jid(4006), 1)] == "failed"  # raised; Sidekiq retried it
    assert outcomes[(_jid(4006), 2)] == "done"
    assert outcomes[(_jid(4007), 1)] == "failed"


def test_a_sidekiq_run_is_marked_done_at_its_job_done_event() -> None:
    tables, _ = _run(SIDEKIQ)
    (run,) = [r for r in tables["job_runs"] if r["job_id"] == _jid(4005)]

    # the premature job wrote job.done 1 ms after its process span started, 51 ms into 4005
    assert run["done_ns"] - run["start_ns"] == 1_000_000


def test_a_sidekiq_process_span_is_a_root_linked_to_its_publish_span() -> None:
    tables, _ = _run(SIDEKIQ)
    enqueue_traces = {(q["job_id"], q["trace_id"]) for q in tables["enqueues"]}

    for run in tables["job_runs"]:
        assert run["parent_span_id"] == ""
        (linked,) = run["link_trace_ids"]
        assert (run["job_id"], linked) in enqueue_traces
        assert linked != run["trace_id"]


def test_the_sidekiq_profile_makes_an_enqueue_of_every_publish_span_including_the_retry() -> None:
    tables, _ = _run(SIDEKIQ)
    enqueues = tables["enqueues"]

    assert sorted(q["job_id"] for q in enqueues) == sorted(
        [_jid(n) for n in range(4001, 4009)] + [_jid(4006)]
    )
    assert {(q["system"], q["job_name"], q["queue"]) for q in enqueues} == {
        ("sidekiq", "SendOrderConfirmationJob", "default")
    }
    assert {q["service"] for q in enqueues if q["job_id"] == _jid(4006)} == {
        "shop-web",
        "shop-sidekiq",  # the retry poller re-pushes through Sidekiq::Client
    }


def test_a_sidekiq_rule_correlated_by_trace_finds_exactly_the_lying_jobs() -> None:
    _assert_rule_raises_what_the_fixture_expects(SIDEKIQ, "sidekiq-email-by-trace")


def test_a_sidekiq_rule_correlated_by_link_finds_exactly_the_lying_jobs() -> None:
    # Sidekiq's default layout: the effect is in the process span's trace, and the process
    # span (the job run) is linked to the publish span. A rule written with correlate: link
    # for Sidekiq must accept the effects of the run's own trace.
    _assert_rule_raises_what_the_fixture_expects(SIDEKIQ, "sidekiq-email-by-link")


def test_a_sidekiq_rule_correlated_by_key_finds_exactly_the_lying_jobs() -> None:
    _assert_rule_raises_what_the_fixture_expects(SIDEKIQ, "sidekiq-email-by-key")


def test_a_sidekiq_job_published_and_never_processed_is_lost() -> None:
    _assert_rule_raises_what_the_fixture_expects(SIDEKIQ, "sidekiq-jobs-complete")
    _, findings = _run(SIDEKIQ)
    (lost,) = [f for f in findings if f.kind == "lost_job"]
    assert lost.job_id == _jid(4008)
    assert lost.job_name == "SendOrderConfirmationJob"


def test_with_child_propagation_a_sidekiq_process_span_is_still_a_run_in_the_publish_trace() -> (
    None
):
    # propagation_style: :child — tracer.in_span under the extracted context
    attributes = {
        "messaging.system": "sidekiq",
        "messaging.sidekiq.job_class": "SendOrderConfirmationJob",
        "messaging.message_id": "0123456789abcdef01234567",
        "messaging.destination": "mailers",
        "messaging.destination_kind": "queue",
    }
    spans = [
        {"trace": "t", "span": "pub", "name": "mailers publish", "kind": "producer",
         "attributes": attributes, "start": "0ms", "end": "1ms"},
        {"trace": "t", "span": "run", "parent": "pub", "name": "mailers process",
         "kind": "consumer", "attributes": {**attributes, "messaging.operation": "process"},
         "start": "5ms", "end": "9ms"},
    ]  # fmt: skip
    catalog = load_catalog([], packs=False)
    with store_with_spans(spans) as store:
        tables = derived(store, catalog.profiles)

    (run,) = tables["job_runs"]
    (enqueue,) = tables["enqueues"]
    assert (run["system"], run["queue"], run["outcome"]) == ("sidekiq", "mailers", "done")
    assert run["trace_id"] == enqueue["trace_id"]
    assert run["job_id"] == enqueue["job_id"] == "0123456789abcdef01234567"


# --------------------------------------------------------------------------------- Temporal


def _activity_job_id(order: int) -> str:
    """An activity's job id: the workflow id and the span id of the StartActivity that
    scheduled it (compact span labels become ids as ``auditor.rules.testing`` makes them)."""
    return f"order-ORD-{order}/" + hashlib.sha256(f"tp-{order}-startact".encode()).hexdigest()[:16]


def test_the_temporal_profile_makes_one_run_per_activity_attempt() -> None:
    tables, _ = _run(TEMPORAL)
    runs = [r for r in tables["job_runs"] if r["span_name"].startswith("RunActivity:")]

    assert len(runs) == 9  # 5001-5007, and two attempts each for 5004 and 5005
    assert {r["system"] for r in runs} == {"temporal"}
    assert {r["job_name"] for r in runs} == {"send_order_confirmation"}  # the activity type
    assert {r["job_id"] for r in runs} == {_activity_job_id(n) for n in range(5001, 5008)}
    attempts = {(r["job_id"], r["attempt"]): r["outcome"] for r in runs}
    assert attempts[(_activity_job_id(5004), 1)] == "failed"
    assert attempts[(_activity_job_id(5004), 2)] == "done"
    assert (
        attempts[(_activity_job_id(5005), 1)] == attempts[(_activity_job_id(5005), 2)] == "failed"
    )
    assert attempts[(_activity_job_id(5001), 1)] == "done"


def test_temporal_starts_are_enqueues_and_a_picked_up_workflow_is_a_run_of_unknown_outcome() -> (
    None
):
    tables, _ = _run(TEMPORAL)

    enqueues = {(e["job_id"], e["job_name"]) for e in tables["enqueues"]}
    assert enqueues == {(f"order-ORD-{n}", "OrderWorkflow") for n in range(5001, 5008)} | {
        (_activity_job_id(n), "send_order_confirmation") for n in range(5001, 5008)
    }
    picked_up = [r for r in tables["job_runs"] if r["span_name"].startswith("RunWorkflow:")]
    assert {(r["job_id"], r["job_name"], r["outcome"]) for r in picked_up} == {
        (f"order-ORD-{n}", "OrderWorkflow", "unknown") for n in range(5001, 5008)
    }
    # CompleteWorkflow carries nothing the adapter's Workflow span does not: no run of its own
    assert not [r for r in tables["job_runs"] if r["span_name"].startswith("CompleteWorkflow:")]


def test_a_temporal_rule_correlated_by_trace_finds_exactly_the_lying_activities() -> None:
    _assert_rule_raises_what_the_fixture_expects(TEMPORAL, "temporal-email-by-trace")


def test_a_temporal_rule_correlated_by_workflow_key_sees_the_reconciler_confirmation() -> None:
    _assert_rule_raises_what_the_fixture_expects(TEMPORAL, "temporal-email-by-workflow-key")
    _, findings = _run(TEMPORAL)
    reconciled = {f.rule_id for f in findings if f.job_id == "order-ORD-5007/ec481c060758f8b9"}
    assert reconciled == {"temporal-email-by-trace"}


def test_the_temporal_fixture_passes_as_rule_unit_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rules", "test", str(TEMPORAL)])

    out, err = capsys.readouterr()
    assert code == 0, out
    assert "2 passed, 0 failed" in err
    assert out.count("ok    ") == 2
