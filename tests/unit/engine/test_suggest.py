"""``audit rules suggest``'s statistics (``engine.suggest``), on compact spans: which effects
and client spans a job's runs marked done had, as the rule compiler's ``correlate: trace``
would credit them, and the rules chosen from them, read back and run as ``audit scan`` would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.engine.catalog import load_catalog
from auditor.engine.derive import derive
from auditor.engine.scan import ScanRequest, run_scan
from auditor.engine.suggest import SuggestRequest, job_stats, suggest
from auditor.errors import InputError
from auditor.rules.suggest import Candidate, JobStats, propose, render
from auditor.rules.testing import spans_to_request
from tests.unit.engine.scanning import store_with_spans

PROFILES = load_catalog(packs=False).profiles


def run(
    job_id: str, name: str = "shop.mail", *, system: str = "dramatiq", done: bool = True
) -> dict[str, Any]:
    """A job run span (the probes convention) in trace ``t-<job_id>``, done at 50 ms."""
    attributes = {"job.system": system, "job.id": job_id, "job.name": name}
    span: dict[str, Any] = {
        "trace": f"t-{job_id}", "span": f"run-{job_id}", "name": f"process {name}",
        "kind": "consumer", "start": "0ms", "end": "60ms", "attributes": attributes,
    }  # fmt: skip
    if done:
        span["events"] = [{"name": "job.done", "at": "50ms"}]
    else:
        attributes["job.outcome"] = "failed"
    return span


def under(job_id: str, name: str, label: str = "", **fields: Any) -> dict[str, Any]:
    """A span in the run's trace, under the run, between 10 and 20 ms."""
    return {
        "trace": f"t-{job_id}", "span": f"{label or name}-{job_id}", "parent": f"run-{job_id}",
        "name": name, "start": "10ms", "end": "20ms", **fields,
    }  # fmt: skip


def confirm(job_id: str, effect: str = "email.sent", **fields: Any) -> dict[str, Any]:
    attributes = {"side_effect.name": effect, "side_effect.key": f"k-{job_id}", "job.id": job_id}
    return under(
        job_id, "side_effect.confirm", f"confirm-{effect}", attributes=attributes, **fields
    )


def smtp(job_id: str, **fields: Any) -> dict[str, Any]:
    attributes = {"server.address": "mail.test", "network.protocol.name": "smtp"}
    return under(job_id, "smtp.send", kind="client", attributes=attributes, **fields)


def stats(
    spans: Sequence[dict[str, Any]], *, min_runs: int = 1, min_ratio: float = 0.8
) -> dict[str, JobStats]:
    """Job name → its statistics."""
    with store_with_spans(spans) as store:
        derive(store.con, PROFILES)
        jobs = job_stats(store.con, min_runs=min_runs, min_ratio=min_ratio)
    return {job.job_name: job for job in jobs}


def by_label(job: JobStats) -> dict[str, Candidate]:
    return {c.signature.label: c for c in job.candidates}


def mail_traffic(runs: int = 10, unconfirmed: Sequence[int] = (3,)) -> list[dict[str, Any]]:
    """``runs`` runs of shop.mail, each confirming email.sent but those in ``unconfirmed``."""
    spans: list[dict[str, Any]] = []
    for i in range(runs):
        spans.append(run(f"m{i}"))
        if i not in unconfirmed:
            spans.append(confirm(f"m{i}"))
    return spans


def test_the_share_of_done_runs_confirming_an_effect_and_the_runs_that_did_not() -> None:
    jobs = stats(mail_traffic(10, unconfirmed=(3,)))
    job = jobs["shop.mail"]
    assert (job.system, job.runs) == ("dramatiq", 10)
    [email] = job.candidates
    assert email.signature.is_effect and email.signature.name == "email.sent"
    assert (email.confirmed, email.failed, email.missing, email.stable) == (9, 0, 1, True)
    assert [e.job_id for e in email.missing_examples] == ["m3"]
    assert len(email.confirmed_examples) == 3
    assert all(e.job_id != "m3" for e in email.confirmed_examples)


def test_runs_not_marked_done_are_not_counted() -> None:
    spans = [*mail_traffic(4, unconfirmed=()), run("f1", done=False), run("f2", done=False)]
    job = stats(spans)["shop.mail"]
    assert job.runs == 4
    assert by_label(job)["email.sent"].confirmed == 4


def test_a_job_whose_runs_never_have_effects_has_no_candidates() -> None:
    spans = [*mail_traffic(5, unconfirmed=()), *(run(f"c{i}", "shop.cleanup") for i in range(6))]
    jobs = stats(spans)
    assert jobs["shop.cleanup"].runs == 6
    assert jobs["shop.cleanup"].candidates == ()
    proposal = propose(jobs.values(), min_runs=5, min_ratio=0.8)
    assert [s.job.job_name for s in proposal.rules] == ["shop.mail"]
    assert [j.job_name for j in proposal.unstable] == ["shop.cleanup"]


def test_an_effect_is_credited_as_correlate_trace_credits_it() -> None:
    spans = [run("a"), run("b"), run("c"), run("d")]
    # a: the confirmation runs in a thread outside the job's context: a new trace, with job.id
    orphan = confirm("a") | {"trace": "thread-a", "parent": "nothing"}
    spans.append(orphan)
    # b: a confirmation in b's trace naming another job is not b's
    spans.append(confirm("b") | {"attributes": {"side_effect.name": "email.sent", "job.id": "x"}})
    # c: a failed confirmation: the run had one, and every one failed
    spans.append(confirm("c", status="error"))
    # d: confirmed, and confirmed by a second, failed span: it counts as confirmed
    spans += [confirm("d"), confirm("d", status="error") | {"span": "second-d"}]
    email = by_label(stats(spans)["shop.mail"])["email.sent"]
    assert (email.confirmed, email.failed) == (2, 1)


def test_client_spans_that_could_be_selectors_smtp_http_writes_and_inserts() -> None:
    spans: list[dict[str, Any]] = []
    for i in range(5):
        j = f"p{i}"
        spans += [
            run(j, "shop.pay"),
            smtp(j),
            under(j, "POST", "new", kind="client",
                  attributes={"http.request.method": "POST", "server.address": "api.pay.test"}),
            under(j, "HTTP POST", "old", kind="client",
                  attributes={"http.method": "POST", "net.peer.name": "old.pay.test"}),
            under(j, "PUT", "url", kind="client", attributes={
                "http.request.method": "PUT",
                "url.full": "https://user@hooks.test:8443/v1/orders?id=1"}),
            under(j, "GET", "get", kind="client",
                  attributes={"http.request.method": "GET", "server.address": "api.pay.test"}),
            under(j, "INSERT", "ins", kind="client",
                  attributes={"db.operation": "INSERT", "db.sql.table": "ledger"}),
            under(j, "db", "stmt", kind="client",
                  attributes={"db.statement": '  insert into "audit_log" (id) values (1)'}),
            under(j, "SELECT", "sel", kind="client",
                  attributes={"db.operation": "SELECT", "db.sql.table": "ledger"}),
            under(j, "POST", "internal", kind="internal",
                  attributes={"http.request.method": "POST", "server.address": "x.test"}),
        ]  # fmt: skip
    job = stats(spans)["shop.pay"]
    labels = by_label(job)
    assert set(labels) == {
        "the smtp.send client span",
        "an HTTP POST to api.pay.test",
        "an HTTP POST to old.pay.test",
        "an HTTP PUT to hooks.test",
        "an INSERT into ledger",
        "an INSERT into audit_log",
    }
    assert all(c.confirmed == 5 for c in labels.values())
    http = labels["an HTTP POST to old.pay.test"].signature.expect()
    assert http == {
        "span": {"kind": "client",
                 "attributes": {"http.method": "POST", "net.peer.name": "old.pay.test"}}
    }  # fmt: skip
    insert = labels["an INSERT into ledger"].signature.expect()
    assert insert == {
        "span": {
            "kind": "client",
            "attributes": {"db.operation": "INSERT", "db.sql.table": "ledger"},
        }
    }
    assert "where" in labels["an HTTP PUT to hooks.test"].signature.expect()["span"]
    assert "where" in labels["an INSERT into audit_log"].signature.expect()["span"]


def _write(tmp_path: Path, spans: Sequence[dict[str, Any]], name: str = "spans.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spans_to_request(list(spans))) + "\n")
    return path


def _scan_with(tmp_path: Path, spans_file: Path, text: str) -> set[tuple[str, str, str]]:
    rules = tmp_path / "suggested.yaml"
    rules.write_text(text)
    result = run_scan(
        ScanRequest(files=(str(spans_file),), evidence=False), load_catalog([rules], packs=False)
    )
    return {(f.rule_id, f.job_id, str(f.kind)) for f in result.report.findings}


def test_span_selectors_that_read_urls_and_statements_select_what_they_counted(
    tmp_path: Path,
) -> None:
    """A rule written from a url.full host or an INSERT statement (a ``where:``) finds the run
    that lacks it and no other."""
    spans: list[dict[str, Any]] = []
    for i in range(6):
        j = f"h{i}"
        # run h4 calls another host and writes another table: not what the rules expect
        url = "https://hooks.test.evil/orders" if i == 4 else f"https://hooks.test/orders/{i}"
        table = "ledger_archive" if i == 4 else "ledger"
        put = {"http.request.method": "PUT", "url.full": url}
        insert = {"db.statement": f"INSERT INTO {table}(id) VALUES (?)"}
        spans += [
            run(j, "shop.hook"),
            under(j, "PUT", kind="client", attributes=put),
            under(j, "q", kind="client", attributes=insert),
        ]
    path = _write(tmp_path, spans)
    result = suggest(SuggestRequest((str(path),), min_runs=5, min_ratio=0.8), PROFILES)
    ids = {s.rule_id for s in result.proposal.rules}
    assert ids == {"dramatiq.shop.hook.put-hooks.test", "dramatiq.shop.hook.insert-ledger"}
    found = _scan_with(tmp_path, path, render(result.proposal))
    assert found == {(rule_id, "h4", "unconfirmed_done") for rule_id in ids}


def test_a_proposed_rule_flags_the_runs_the_statistics_counted_as_missing(tmp_path: Path) -> None:
    spans = mail_traffic(10, unconfirmed=(2, 7))
    path = _write(tmp_path, spans)
    result = suggest(SuggestRequest((str(path),), min_runs=5, min_ratio=0.8), PROFILES)
    [rule] = result.proposal.rules
    assert rule.rule_id == "dramatiq.shop.mail.email.sent"
    assert result.proposal.flagged == 2
    text = render(result.proposal)
    assert "8 of 10 runs marked done (80%) confirmed email.sent" in text
    assert _scan_with(tmp_path, path, text) == {
        (rule.rule_id, "m2", "unconfirmed_done"),
        (rule.rule_id, "m7", "unconfirmed_done"),
    }


def test_min_runs_and_min_ratio_decide_which_jobs_get_a_rule() -> None:
    jobs = stats(mail_traffic(10, unconfirmed=(2, 7)), min_runs=1, min_ratio=0.5).values()
    assert [s.rule_id for s in propose(jobs, min_runs=10, min_ratio=0.8).rules] == [
        "dramatiq.shop.mail.email.sent"
    ]
    too_few = propose(jobs, min_runs=11, min_ratio=0.8)
    assert (too_few.rules, [j.job_name for j in too_few.too_few]) == ((), ["shop.mail"])
    unstable = propose(jobs, min_runs=10, min_ratio=0.81)
    assert (unstable.rules, [j.job_name for j in unstable.unstable]) == ((), ["shop.mail"])


def test_examples_are_kept_only_for_stable_candidates() -> None:
    job = stats(mail_traffic(10, unconfirmed=(2, 7)), min_ratio=0.9)["shop.mail"]
    [email] = job.candidates
    assert not email.stable and email.missing_examples == () and email.confirmed_examples == ()


def test_a_span_candidate_is_an_alternative_when_an_effect_is_stable_and_the_rule_without() -> None:
    both: list[dict[str, Any]] = []
    spans_only: list[dict[str, Any]] = []
    for i in range(5):
        both += [run(f"b{i}", "shop.both"), confirm(f"b{i}"), smtp(f"b{i}")]
        spans_only += [run(f"s{i}", "shop.smtp"), smtp(f"s{i}")]
    proposal = propose(stats([*both, *spans_only]).values(), min_runs=5, min_ratio=0.8)
    shown = [(s.rule_id, s.active) for s in proposal.suggestions]
    assert shown == [
        ("dramatiq.shop.both.email.sent", True),
        ("dramatiq.shop.both.smtp.send", False),
        ("dramatiq.shop.smtp.smtp.send", True),
    ]
    document = yaml.safe_load(render(proposal))
    assert [r["id"] for r in document["rules"]] == [
        "dramatiq.shop.both.email.sent",
        "dramatiq.shop.smtp.smtp.send",
    ]
    assert document["rules"][1]["expect"] == {
        "span": {"name": "smtp.send", "kind": "client"},
        "correlate": "trace",
    }


def test_no_spans_is_an_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"resourceSpans": []}\n')
    with pytest.raises(InputError, match="no spans in"):
        suggest(SuggestRequest((str(empty),)), PROFILES)
