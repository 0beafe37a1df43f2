"""The built-in profiles (``rules/systems/*.yaml``) on real captures and on spans that follow
the OpenTelemetry messaging conventions: which spans become runs and enqueues, with which
outcome, and which profile claims a span that several recognize."""

from __future__ import annotations

from functools import cache
from typing import Any

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from tests.unit.engine.scanning import capture, derived, ground_truth_entries, store_with_spans

Tables = dict[str, list[dict[str, Any]]]


@cache
def _builtin_tables(system: str) -> Tables:
    catalog = load_catalog([], packs=False)
    with store_with_spans(files=[capture(system)]) as store:
        return derived(store, catalog.profiles)


def _scenario_ids(system: str) -> dict[str, str]:
    entries = ground_truth_entries(capture(system).parent / "ground_truth.json")
    return {e["scenario"]: e["job_id"] for e in entries}


def _attempts(tables: Tables, job_id: str) -> list[str]:
    runs = sorted(
        (r for r in tables["job_runs"] if r["job_id"] == job_id), key=lambda r: r["attempt"]
    )
    return [r["outcome"] for r in runs]


# ----------------------------------------------------------------------- the messaging profile

_KAFKA = {"messaging.system": "kafka", "messaging.destination.name": "orders"}


def _message(trace: str, message_id: str, *, processed: bool, failed: bool = False) -> list[dict]:
    spans = [{"trace": trace, "span": f"{trace}-send", "name": "send orders", "kind": "producer",
              "start": "0ms", "end": "1ms",
              "attributes": {**_KAFKA, "messaging.operation.type": "send",
                             "messaging.message.id": message_id}}]  # fmt: skip
    if processed:
        spans.append({"trace": trace, "span": f"{trace}-process", "parent": f"{trace}-send",
                      "name": "process orders", "kind": "consumer", "start": "5ms", "end": "9ms",
                      "status": "error" if failed else "unset",
                      "attributes": {**_KAFKA, "messaging.operation.type": "process",
                                     "messaging.message.id": message_id}})  # fmt: skip
    return spans


def test_the_messaging_profile_makes_a_run_of_a_consumer_span_that_processes_a_message() -> None:
    spans = _message("t1", "m1", processed=True) + _message("t2", "m2", processed=True, failed=True)
    with store_with_spans(spans) as store:
        tables = derived(store, load_catalog([], packs=False).profiles)

    runs = {r["job_id"]: r for r in tables["job_runs"]}
    assert set(runs) == {"m1", "m2"}
    m1 = runs["m1"]
    assert (m1["profile"], m1["system"], m1["job_name"], m1["queue"]) == (
        "messaging", "kafka", "orders", "orders",
    )  # fmt: skip
    assert (m1["outcome"], m1["attempt"], m1["span_name"]) == ("done", 1, "process orders")
    assert runs["m2"]["outcome"] == "failed"
    assert sorted(q["job_id"] for q in tables["enqueues"]) == ["m1", "m2"]
    assert {q["profile"] for q in tables["enqueues"]} == {"messaging"}


def test_the_messaging_profile_reads_the_older_operation_and_message_id_keys() -> None:
    spans = [{"trace": "t", "span": "c", "name": "jobs receive", "kind": "consumer",
              "attributes": {"messaging.system": "rabbitmq", "messaging.operation": "process",
                             "messaging.message_id": "old-1", "messaging.destination": "jobs"}}]  # fmt: skip
    with store_with_spans(spans) as store:
        (run,) = derived(store, load_catalog([], packs=False).profiles)["job_runs"]

    assert (run["system"], run["job_id"], run["queue"], run["outcome"]) == (
        "rabbitmq", "old-1", "jobs", "done",
    )  # fmt: skip


def test_a_receive_span_is_a_run_only_when_it_names_one_message() -> None:
    # pika and aio-pika call a span around the consumer callback "receive"; a receive of a
    # batch (no message id) is no run of any one job
    spans = [{"trace": "t", "span": "c", "name": "receive orders", "kind": "consumer",
              "attributes": {**_KAFKA, "messaging.operation.type": "receive",
                             "messaging.message.id": "m9"}},
             {"trace": "t", "span": "b", "name": "receive orders", "kind": "consumer",
              "attributes": {**_KAFKA, "messaging.operation.type": "receive"}}]  # fmt: skip
    with store_with_spans(spans) as store:
        tables = derived(store, load_catalog([], packs=False).profiles)

    assert [(r["job_id"], r["span_name"]) for r in tables["job_runs"]] == [("m9", "receive orders")]


def test_the_built_in_packs_report_a_published_message_that_was_never_processed() -> None:
    spans = _message("t1", "m1", processed=True) + _message("t2", "m2", processed=False)
    with store_with_spans(spans) as store:
        findings = evaluate(store.con, load_catalog([]), evidence=False).findings

    assert {(f.rule_id, f.kind, f.job_id) for f in findings} == {
        ("messaging-jobs-run", "lost_job", "m2")
    }


# ----------------------------------------------------------------------------- priority


def test_an_rq_publish_is_claimed_by_the_rq_profile_not_the_messaging_profile() -> None:
    tables = _builtin_tables("rq")

    # RQ spans carry messaging.operation.type (send / process) and messaging.system "Python RQ",
    # which the generic messaging profile also recognizes; rq has the lower priority number.
    assert tables["enqueues"]
    assert {(q["profile"], q["system"]) for q in tables["enqueues"]} == {("rq", "rq")}
    assert {(r["profile"], r["system"]) for r in tables["job_runs"]} == {("rq", "rq")}
    assert {q["span_name"].split(" ")[0] for q in tables["enqueues"]} == {"publish"}


def test_every_rq_publish_span_is_one_enqueue() -> None:
    tables = _builtin_tables("rq")
    ids = _scenario_ids("rq")
    jobs = ground_truth_entries(capture("rq").parent / "ground_truth.json")

    # one publish per job from the producer, plus the worker's re-publish of each retried job
    retried = [ids["retry_duplicate"], ids["retry_then_ok"], ids["crash_first_delivery"]]
    assert sorted(q["job_id"] for q in tables["enqueues"]) == sorted(
        [job["job_id"] for job in jobs] + retried
    )


# ----------------------------------------------------------------------------- outcomes


def test_a_celery_attempt_that_was_retried_has_outcome_retry() -> None:
    tables = _builtin_tables("celery")
    ids = _scenario_ids("celery")

    assert _attempts(tables, ids["retry_duplicate"]) == ["retry", "done"]
    assert _attempts(tables, ids["failed"]) == ["failed"]
    assert _attempts(tables, ids["crash"]) == []  # the dead worker exported nothing


def test_a_bullmq_attempt_that_was_retried_has_outcome_retry() -> None:
    tables = _builtin_tables("bullmq")
    ids = _scenario_ids("bullmq")

    assert _attempts(tables, ids["retry_duplicate"]) == ["retry", "done"]
    assert _attempts(tables, ids["crash"]) == ["failed"]  # stalled more than allowable limit


def test_bullmq_stalled_job_events_become_signals_for_their_jobs() -> None:
    tables = _builtin_tables("bullmq")
    ids = _scenario_ids("bullmq")

    stalled = sorted(s["job_id"] for s in tables["signals"] if s["signal"] == "stalled")
    assert stalled == sorted([ids["crash"], ids["crash"], ids["crash_first_delivery"]])


def test_an_rq_attempt_that_was_retried_has_outcome_retry() -> None:
    tables = _builtin_tables("rq")
    ids = _scenario_ids("rq")

    # In real Celery traffic, the re-enqueue ``publish`` of a Retry is a child of ``consume`` (a sibling of
    # handle_job_failure), and after a horse crash a child of the original ``publish`` (a
    # sibling of the parent worker's handle_job_failure).
    assert _attempts(tables, ids["retry_duplicate"]) == ["retry", "done"]
    assert _attempts(tables, ids["retry_then_ok"]) == ["retry", "done"]
    assert _attempts(tables, ids["crash_first_delivery"]) == ["retry", "done"]
    assert _attempts(tables, ids["failed"]) == ["failed"]
    assert _attempts(tables, ids["crash"]) == ["failed"]
