"""``correlate: trace`` in a trace of many job runs (a Celery canvas, a BullMQ flow, a Temporal
workflow): an effect or a failed span belongs to the run that is its nearest ancestor among
job runs; with none above it, to the run of its service whose time span contains it; never to
a sibling, nor are spans made outside every job (the API handler that started the chain)
anyone's. An effect carrying a ``job.id`` belongs to that job's run, wherever it sits.

Spans in the probes convention (``job.system`` / ``job.id`` / ``job.done``), without the
adapter that would put ``job.id`` on every confirmation: only the trace's structure tells the
runs apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.rules.testing import spans_to_request
from tests.unit.engine.scanning import scan

TRACE = "canvas"


def _api(confirms: str = "") -> list[dict[str, Any]]:
    """The API handler that started the jobs; with ``confirms``, its own email.sent (its
    "order received" mail, in the same trace, made by no job)."""
    spans: list[dict[str, Any]] = [
        {"trace": TRACE, "span": "api", "name": "POST /orders", "kind": "server",
         "service": "api", "start": "0ms", "end": "300ms"},
    ]  # fmt: skip
    if confirms:
        spans.append(_confirm("api-mail", "api", confirms, "2ms", service="api"))
    return spans


def _run(job: str, start: int, end: int, parent: str = "api") -> dict[str, Any]:
    """A job run (marked done 2 ms before it ends) under ``parent``."""
    return {
        "trace": TRACE, "span": f"run-{job}", "parent": parent, "name": "process orders",
        "kind": "consumer", "service": "worker", "start": f"{start}ms", "end": f"{end}ms",
        "attributes": {"job.system": "dramatiq", "job.id": job, "job.name": "shop.mail"},
        "events": [{"name": "job.done", "at": f"{end - 2}ms"}],
    }  # fmt: skip


def _confirm(
    span: str, parent: str, key: str, start: str, *, service: str = "worker", **attrs: str
) -> dict[str, Any]:
    return {
        "trace": TRACE, "span": span, "parent": parent, "name": "side_effect.confirm",
        "service": service, "start": start, "end": start,
        "attributes": {"side_effect.name": "email.sent", "side_effect.key": key, **attrs},
    }  # fmt: skip


def _failed_smtp(span: str, parent: str, start: str) -> dict[str, Any]:
    return {
        "trace": TRACE, "span": span, "parent": parent, "name": "smtp.send", "kind": "client",
        "service": "worker", "start": start, "end": start, "status": "error",
        "message": "550 mailbox unavailable",
    }  # fmt: skip


def _scan(tmp_path: Path, spans: list[dict[str, Any]], expect: str) -> list[dict[str, Any]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: mail, severity: high, jobs: {system: dramatiq}, expect: " + expect + "}\n"
    )
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(spans_to_request(spans)) + "\n")
    result = scan([path, "--rules", rules, "--no-packs"], tmp_path)
    assert result.code in (0, 1), result
    return result.findings


def _found(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["job_id"], f["kind"]) for f in findings}


def test_a_lying_job_is_not_confirmed_by_a_sibling_nor_by_the_api_handler(tmp_path: Path) -> None:
    spans = [
        *_api(confirms="ORD-1-received"),
        _run("a", 10, 60),  # lies: confirms nothing
        _run("b", 20, 70),
        _confirm("mail-b", "run-b", "ORD-1", "30ms"),
    ]
    findings = _scan(tmp_path, spans, "{effect: email.sent}")
    assert _found(findings) == {("a", "unconfirmed_done")}


def test_a_swallowed_failure_is_its_own_runs_and_never_a_siblings(tmp_path: Path) -> None:
    # c's SMTP call failed under c, during a's run: a lied plainly, c swallowed a failure
    spans = [*_api(), _run("a", 10, 60), _run("c", 20, 70), _failed_smtp("smtp-c", "run-c", "30ms")]
    findings = _scan(tmp_path, spans, "{effect: email.sent}")
    assert _found(findings) == {("a", "unconfirmed_done"), ("c", "failed_effect")}
    (failed,) = [f for f in findings if f["kind"] == "failed_effect"]
    shown = [(e["name"], e["service"]) for e in failed["evidence"] if e["role"] == "failed_span"]
    assert shown == [("smtp.send", "worker")], failed["evidence"]


def test_a_failure_deeper_under_a_run_is_that_runs(tmp_path: Path) -> None:
    # the failed call sits two spans below its run (a client span under a helper span)
    helper = {"trace": TRACE, "span": "helper-c", "parent": "run-c", "name": "render",
              "service": "worker", "start": "25ms", "end": "45ms"}  # fmt: skip
    spans = [*_api(), _run("a", 10, 60), _run("c", 20, 70), helper,
             _failed_smtp("smtp-c", "helper-c", "30ms")]  # fmt: skip
    assert _found(_scan(tmp_path, spans, "{effect: email.sent}")) == {
        ("a", "unconfirmed_done"),
        ("c", "failed_effect"),
    }


def test_a_run_started_by_another_run_keeps_its_own_effects(tmp_path: Path) -> None:
    # a chain: b's run is under a's (a sent b); b's confirmation is b's, not a's
    spans = [*_api(), _run("a", 10, 40), _run("b", 30, 90, parent="run-a"),
             _confirm("mail-b", "run-b", "ORD-2", "50ms")]  # fmt: skip
    assert _found(_scan(tmp_path, spans, "{effect: email.sent}")) == {("a", "unconfirmed_done")}


def test_with_no_run_above_it_an_effect_is_the_run_of_its_service_whose_time_contains_it(
    tmp_path: Path,
) -> None:
    # a thread's confirmation whose parent was never exported: b's by time (same service);
    # one made by the API service at the same moment is nobody's
    spans = [*_api(), _run("a", 10, 25), _run("b", 30, 70),
             _confirm("thread-b", "never-exported", "ORD-3", "40ms"),
             _confirm("api-late", "never-exported", "ORD-4", "12ms", service="api")]  # fmt: skip
    assert _found(_scan(tmp_path, spans, "{effect: email.sent}")) == {("a", "unconfirmed_done")}


def test_an_effect_carrying_a_job_id_is_that_jobs_wherever_it_sits(tmp_path: Path) -> None:
    # under b, but it names a: a's confirmation (the job id decides), and b has none
    spans = [*_api(), _run("a", 10, 60), _run("b", 20, 70),
             _confirm("mail-a", "run-b", "ORD-5", "30ms", **{"job.id": "a"})]  # fmt: skip
    assert _found(_scan(tmp_path, spans, "{effect: email.sent}")) == {("b", "unconfirmed_done")}


def test_a_span_selector_effect_belongs_to_its_run_only(tmp_path: Path) -> None:
    smtp_ok = {"trace": TRACE, "span": "smtp-b", "parent": "run-b", "name": "smtp.send",
               "kind": "client", "service": "worker", "start": "30ms", "end": "31ms"}  # fmt: skip
    api_smtp = {**smtp_ok, "span": "smtp-api", "parent": "api", "service": "api"}
    spans = [*_api(), api_smtp, _run("a", 10, 60), _run("b", 20, 70), smtp_ok]
    findings = _scan(tmp_path, spans, "{span: {name: smtp.send, kind: client}}")
    assert _found(findings) == {("a", "unconfirmed_done")}


def test_a_duplicate_names_only_the_jobs_that_confirmed_the_key(tmp_path: Path) -> None:
    spans = [
        *_api(confirms="ORD-6"),
        _run("a", 10, 60),
        _run("b", 20, 70),
        _run("c", 25, 80),
        _confirm("mail-a", "run-a", "ORD-6", "30ms"),
        _confirm("mail-b", "run-b", "ORD-6", "40ms"),
        _confirm("mail-c", "run-c", "ORD-7", "50ms"),
    ]
    findings = _scan(tmp_path, spans, "{effect: email.sent}")
    duplicates = [f for f in findings if f["kind"] == "duplicate_effect"]
    assert [(f["effect_key"], sorted(f["job_id"].split(","))) for f in duplicates] == [
        ("ORD-6", ["a", "b"])
    ]
    assert {f["job_id"] for f in findings if f["kind"] != "duplicate_effect"} == set()
