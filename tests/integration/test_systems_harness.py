"""Smoke test of the job-system harness (tests/systems): real workers, real spans, real store.

For each system, every scenario of ``tests/systems/scenarios.py`` runs against a real broker,
real worker processes and a real SMTP server, exporting OTLP/HTTP to the product's own
``audit serve`` (temporary DuckDB store). After the server has drained and stopped, the stored
spans are read back with DuckDB and checked against the facts the real captures show for that
system (span names, kinds, parents, states, events) and against the ground truth (one
confirmation per accepted email, ``job.done`` on the right span, the crash shapes).

This tests the harness and the instrumentation, not the rules: whether the auditor *finds*
the lies is for the rule tests that use the same harness or its captures.

Needs Redis on 127.0.0.1:6379 (DBs 13-15 are flushed) and, for BullMQ, Node 20 + npm.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosmtpd  # noqa: F401 - the integration test needs it installed
import celery  # noqa: F401 - the integration test needs it installed
import duckdb
import pytest
import rq  # noqa: F401 - the integration test needs it installed

from tests.systems.audit_serve import audit_serve
from tests.systems.harness import JobRecord, run_system
from tests.systems.scenarios import SCENARIOS, SCENARIOS_BY_NAME

pytestmark = pytest.mark.integration


# Redis and Node are provided by scripts/services and scripts/test: a test that cannot reach
# them fails (it never skips).


# --------------------------------------------------------------------------------------------
# Reading the store


@dataclass(frozen=True)
class Span:
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    scope: str
    scope_version: str
    status: str
    attrs: dict[str, str]
    events: list[tuple[str, dict[str, str]]]

    @property
    def event_names(self) -> list[str]:
        return [name for name, _ in self.events]


def _strings(attributes: dict[str, Any]) -> dict[str, str]:
    """Attribute values as strings, whether the store keeps them typed or as text."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in attributes.items()}


def load_spans(db: Path) -> list[Span]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            'SELECT "SpanName", "SpanKind", "TraceId", "SpanId", "ParentSpanId", "ServiceName",'
            ' "ScopeName", "ScopeVersion", "StatusCode", "SpanAttributes", "Events.Name",'
            ' "Events.Attributes" FROM otel_traces ORDER BY "Timestamp"'
        ).fetchall()
    finally:
        con.close()
    spans = []
    for row in rows:
        *columns, attributes, event_names, event_attributes = row
        events = [
            (name, _strings(json.loads(attrs)))
            for name, attrs in zip(event_names, event_attributes, strict=True)
        ]
        spans.append(Span(*columns, _strings(json.loads(attributes)), events))
    return spans


class Store:
    """The spans of one run, with the few lookups the assertions need."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans
        self.by_id = {s.span_id: s for s in spans}

    def find(
        self, name: str | None = None, *, prefix: str | None = None, **attrs: str
    ) -> list[Span]:
        """Spans by exact name (or name prefix) and attribute values; ``a__b`` means ``a.b``."""
        wanted = {k.replace("__", "."): v for k, v in attrs.items()}
        return [
            s
            for s in self.spans
            if (name is None or s.name == name)
            and (prefix is None or s.name.startswith(prefix))
            and all(s.attrs.get(k) == v for k, v in wanted.items())
        ]

    def parent(self, span: Span) -> Span | None:
        return self.by_id.get(span.parent_id)

    def children(self, span: Span) -> list[Span]:
        return [s for s in self.spans if s.parent_id == span.span_id]

    def done_events(self, key: str) -> list[Span]:
        """Spans carrying a ``job.done`` event for order ``key`` (one entry per event)."""
        return [
            s
            for s in self.spans
            for name, attrs in s.events
            if name == "job.done" and attrs.get("side_effect.key") == key
        ]


def run_and_load(system: str, tmp_path: Path) -> tuple[list[JobRecord], Store]:
    db = tmp_path / "store.duckdb"
    with audit_serve(db) as endpoint:
        records = run_system(system, endpoint, None, tmp_path / "run")
    assert (tmp_path / "run" / "ground_truth.json").exists()
    return records, Store(load_spans(db))


# --------------------------------------------------------------------------------------------
# Facts that hold for every system: the shop's own instrumentation


def check_shop_spans(system: str, records: list[JobRecord], store: Store) -> None:
    assert Counter(r.scenario for r in records) == {s.name: s.jobs for s in SCENARIOS}
    assert len({r.effect_key for r in records}) == len(records)

    for r in records:
        scenario = SCENARIOS_BY_NAME[r.scenario]
        emails = scenario.emails[system]
        confirms = store.find("side_effect.confirm", side_effect__key=r.effect_key)
        assert len(confirms) == emails, r
        for c in confirms:
            assert (c.kind, c.scope, c.scope_version) == ("Internal", "shop.jobs", "1.0.0")
            assert c.attrs["side_effect.name"] == "email.sent"
            assert c.attrs["job.id"] == r.job_id
        sends = store.find("smtp.send", side_effect__key=r.effect_key)
        for s in sends:
            assert s.kind == "Client" and s.scope == "shop.jobs"
            assert s.attrs["job.id"] == r.job_id
            assert s.attrs["network.protocol.name"] == "smtp"
        ok_sends = [s for s in sends if s.status != "Error"]
        assert len(ok_sends) == emails, r  # crashed sends never end, so they are never exported

        done = store.done_events(r.effect_key)
        marks_done = r.final_state == "done"
        assert len(done) == (1 if marks_done else 0), r

    swallowed = next(r for r in records if r.scenario == "swallowed")
    (send,) = store.find("smtp.send", side_effect__key=swallowed.effect_key)
    assert send.status == "Error" and "exception" in send.event_names
    assert send.attrs["email.to.domain"] == "rejects.test"

    skipped = next(r for r in records if r.scenario == "skipped")
    assert not store.find("smtp.send", side_effect__key=skipped.effect_key)


def job(records: list[JobRecord], scenario: str) -> JobRecord:
    return next(r for r in records if r.scenario == scenario)


# --------------------------------------------------------------------------------------------
# Per system


def test_celery_spans(tmp_path: Path) -> None:
    records, store = run_and_load("celery", tmp_path)
    check_shop_spans("celery", records, store)

    for r in records:
        (produced,) = [
            s for s in store.find(f"apply_async/{r.job_name}", messaging__message__id=r.job_id)
            if s.service == "shop-api"
        ]  # fmt: skip
        assert produced.kind == "Producer" and produced.parent_id == ""
        assert produced.scope == "opentelemetry.instrumentation.celery"
        runs = store.find(f"run/{r.job_name}", messaging__message__id=r.job_id)
        if r.scenario == "crash":  # early ack + dead worker: nothing but the enqueue remains
            assert runs == []
            continue
        for run in runs:
            assert run.kind == "Consumer" and run.service == "shop-celery-worker"
            assert store.parent(run).name == f"apply_async/{r.job_name}"
        final = runs[-1]
        assert (
            final.attrs["celery.state"] == {"done": "SUCCESS", "failed": "FAILURE"}[r.final_state]
        )
        if r.final_state == "done":
            assert store.done_events(r.effect_key) == [final]
        else:
            assert final.status == "Error" and "exception" in final.event_names

    for scenario in ("retry_duplicate", "retry_then_ok"):
        r = job(records, scenario)
        first, second = store.find(f"run/{r.job_name}", messaging__message__id=r.job_id)
        assert first.attrs["celery.state"] == "RETRY" and "celery.retry.reason" in first.attrs
        republish = store.parent(second)
        assert republish.service == "shop-celery-worker" and republish.parent_id == first.span_id

    r = job(records, "crash_first_delivery")
    assert r.job_name == "shop.send_order_confirmation_acks_late"
    (run,) = store.find(f"run/{r.job_name}", messaging__message__id=r.job_id)
    assert "'redelivered': True" in run.attrs["celery.delivery_info"]

    r = job(records, "premature_thread")
    (run,) = store.find(f"run/{r.job_name}", messaging__message__id=r.job_id)
    for name in ("smtp.send", "side_effect.confirm"):  # the thread has no OTel context: roots
        (span,) = store.find(name, side_effect__key=r.effect_key)
        assert span.parent_id == "" and span.trace_id != run.trace_id


def test_rq_spans(tmp_path: Path) -> None:
    records, store = run_and_load("rq", tmp_path)
    check_shop_spans("rq", records, store)
    rq_scope = "opentelemetry_instrumentation_rq.instrumentor"

    for r in records:
        publishes = store.find(prefix="publish ", rq__job__id=r.job_id)
        (original,) = [p for p in publishes if p.service == "shop-api"]
        assert original.kind == "Producer" and original.scope == rq_scope
        consumes = store.find(prefix="consume ", rq__job__id=r.job_id)
        for consume in consumes:
            assert consume.kind == "Consumer" and store.parent(consume).name.startswith("publish ")
        performs = store.find("perform", rq__job__id=r.job_id)
        for perform in performs:
            assert perform.kind == "Client" and store.parent(perform).name.startswith("consume ")
        successes = store.find(prefix="handle_job_success ", rq__job__id=r.job_id)
        failures = store.find(prefix="handle_job_failure ", rq__job__id=r.job_id)
        if r.final_state == "done":
            (success,) = successes
            assert store.parent(success).name.startswith("consume ")
            (done_on,) = store.done_events(r.effect_key)
            assert done_on.name == "perform" and done_on.status == "Ok"
        else:
            assert successes == [] and failures

    r = job(records, "failed")
    (perform,) = store.find("perform", rq__job__id=r.job_id)
    assert perform.status == "Error" and "exception" in perform.event_names

    r = job(records, "crash")  # the parent worker records the dead horse under the publish span
    assert store.find(prefix="consume ", rq__job__id=r.job_id) == []
    (failure,) = store.find(prefix="handle_job_failure ", rq__job__id=r.job_id)
    assert store.parent(failure).name.startswith("publish ") and failure.status == "Ok"

    r = job(records, "crash_first_delivery")  # Retry(max=1): failure + re-publish, then success
    (failure,) = store.find(prefix="handle_job_failure ", rq__job__id=r.job_id)
    assert store.parent(failure).service == "shop-api"
    (republish,) = [
        p for p in store.find(prefix="publish ", rq__job__id=r.job_id) if p.service == "shop-rq-worker"
    ]  # fmt: skip
    (consume,) = store.find(prefix="consume ", rq__job__id=r.job_id)
    assert consume.parent_id == republish.span_id

    for scenario in ("retry_duplicate", "retry_then_ok"):
        r = job(records, scenario)
        performs = store.find("perform", rq__job__id=r.job_id)
        assert [p.status for p in performs] == ["Error", "Ok"]


def test_bullmq_spans(tmp_path: Path) -> None:
    records, store = run_and_load("bullmq", tmp_path)
    check_shop_spans("bullmq", records, store)

    for r in records:
        (add,) = store.find(prefix="add ", bullmq__job__id=r.job_id)
        assert add.kind == "Producer" and add.name.endswith(f".{r.job_name}")
        assert (add.scope, add.scope_version) == ("bullmq", "6")
        processes = store.find(prefix="process ", bullmq__job__id=r.job_id)
        assert processes
        for process in processes:
            assert process.kind == "Consumer" and process.parent_id == add.span_id
            assert process.status == "Unset"
        final = processes[-1]
        if r.final_state == "done":
            assert "job completed" in final.event_names
            (done_on,) = store.done_events(r.effect_key)
            assert done_on == final
            assert final.event_names.index("job.done") < final.event_names.index("job completed")
            assert any(c.name.startswith("complete ") for c in store.children(final))
        else:
            assert "job failed" in final.event_names
            assert any(c.name.startswith("fail ") for c in store.children(final))

    for scenario in ("retry_duplicate", "retry_then_ok"):
        r = job(records, scenario)
        first, second = store.find(prefix="process ", bullmq__job__id=r.job_id)
        assert (
            first.attrs["bullmq.job.attempts.made"],
            second.attrs["bullmq.job.attempts.made"],
        ) == ("1", "2")
        assert any(c.name.startswith("delay ") for c in store.children(first))

    stalled = Counter(
        attrs["bullmq.job.id"]
        for s in store.find(prefix="moveStalledJobsToWait ")
        for name, attrs in s.events
        if name == "job stalled"
    )
    crash, crash_once = job(records, "crash"), job(records, "crash_first_delivery")
    assert stalled[crash.job_id] == 2 and stalled[crash_once.job_id] == 1
    (process,) = store.find(prefix="process ", bullmq__job__id=crash.job_id)
    ((_, failed),) = [e for e in process.events if e[0] == "job failed"]
    assert failed["bullmq.job.failed.reason"] == "job stalled more than allowable limit"
    assert len(store.find(prefix="process ", bullmq__job__id=crash_once.job_id)) == 1

    r = job(records, "premature_thread")  # setTimeout keeps the context: children of process
    (process,) = store.find(prefix="process ", bullmq__job__id=r.job_id)
    (confirm,) = store.find("side_effect.confirm", side_effect__key=r.effect_key)
    assert confirm.parent_id == process.span_id
