"""One lie is one finding: a built-in pack rule that reports a lie a user rule already reports
is dropped, and of several pack rules reporting one lie one keeps it
(``auditor.engine.findings``), whatever span a rule chose as the effect."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from auditor.paths import packs_dir
from auditor.rules.testing import spans_to_request
from tests.unit.engine.scanning import SCAN_RULES, SYSTEMS, capture, ground_truth, scan, scan_once

PACK_RULES = {
    rule["id"]
    for path in sorted(packs_dir().glob("*.yaml"))
    for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
}


def test_a_user_rule_on_the_design_example_and_the_packs_report_each_lie_once() -> None:
    result = scan_once(["--rules", SCAN_RULES / "celery-design.yaml", capture("celery")])

    counts = Counter((f["job_id"], f["kind"]) for f in result.findings)
    assert set(counts) == ground_truth("celery")
    assert set(counts.values()) == {1}


def test_a_user_rule_on_the_smtp_span_and_the_packs_report_the_repeated_email_once() -> None:
    # The retried Celery job sent order ORD-1007's email twice: the user rule sees two
    # smtp.send spans with side_effect.key ORD-1007, the side-effects-at-most-once pack two
    # side_effect.confirm spans with the same key. Same job, same key, same lie.
    result = scan_once(["--rules", SCAN_RULES / "celery-span.yaml", capture("celery")])

    duplicates = [f for f in result.findings if f["kind"] == "duplicate_effect"]
    assert [(f["rule_id"], f["effect_key"]) for f in duplicates] == [
        ("notify-smtp-accepted", "ORD-1007")
    ]


# --- built-in packs among themselves, on spans shaped like the probes convention -----------


def _declared_job(job_id: str, effects: str, confirmations: list[dict]) -> list[dict]:
    """A job (probes convention) that declares ``effects`` and is marked done at 50 ms."""
    run = {
        "trace": f"t-{job_id}", "span": f"run-{job_id}", "name": "process orders",
        "kind": "consumer", "start": "0ms", "end": "60ms",
        "attributes": {"job.system": "dramatiq", "job.id": job_id, "job.name": "shop.mail",
                       "job.queue": "mail", "job.expected_effects": effects},
        "events": [{"name": "job.done", "at": "50ms"}],
    }  # fmt: skip
    spans = [run]
    for i, c in enumerate(confirmations):
        spans.append(
            {
                "trace": f"t-{job_id}", "span": f"c{i}-{job_id}", "parent": f"run-{job_id}",
                "name": "side_effect.confirm", "start": c.get("start", "10ms"),
                "end": c.get("end", "20ms"), "status": c.get("status", "unset"),
                "attributes": {"side_effect.name": "email.sent", "side_effect.key": c["key"],
                               "job.id": job_id, "job.system": "dramatiq",
                               **({"side_effect.status": "error"} if c.get("failed") else {})},
            }
        )  # fmt: skip
    return spans


def _packs_scan(tmp_path: Path, spans: list[dict]) -> list[dict]:
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(spans_to_request(spans)) + "\n")
    result = scan([path], tmp_path)
    assert result.code in (0, 1), result
    return result.findings


def test_a_key_confirmed_twice_by_a_job_that_declared_it_is_one_duplicate(tmp_path: Path) -> None:
    # declared-effects-confirmed and side-effects-at-most-once both see ORD-1 confirmed twice
    spans = _declared_job("j1", "email.sent", [{"key": "ORD-1"}, {"key": "ORD-1", "start": "30ms"}])
    findings = _packs_scan(tmp_path, spans)
    duplicates = [f for f in findings if f["kind"] == "duplicate_effect"]
    assert len(duplicates) == 1, findings
    # a pack's duplicate names the job that repeated the effect, not only its id
    assert (duplicates[0]["job_id"], duplicates[0]["job_name"], duplicates[0]["queue"]) == (
        "j1",
        "shop.mail",
        "mail",
    )


def test_a_failed_confirmation_behind_a_done_job_is_one_failed_effect(tmp_path: Path) -> None:
    # the declared pack and failed-effects-not-swallowed both see the swallowed failure
    spans = _declared_job("j2", "email.sent", [{"key": "ORD-2", "status": "error"}])
    findings = _packs_scan(tmp_path, spans)
    assert [(f["kind"], f["job_id"]) for f in findings] == [("failed_effect", "j2")], findings


def test_a_job_owing_two_missing_effects_is_one_finding_with_one_fingerprint(
    tmp_path: Path,
) -> None:
    findings = _packs_scan(tmp_path, _declared_job("j3", "email.sent,sms.sent", []))
    assert [(f["kind"], f["job_id"]) for f in findings] == [("unconfirmed_done", "j3")]


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("rules", ["", "design", "span", "key", "checks"])
def test_no_lie_is_reported_twice_on_a_real_capture(system: str, rules: str) -> None:
    args: list[str | Path] = [capture(system)]
    if rules:
        args += ["--rules", SCAN_RULES / f"{system}-{rules}.yaml"]
    findings = scan_once(args).findings
    user = {f["rule_id"] for f in findings} - PACK_RULES
    lies = Counter(
        (
            f["kind"],
            f["system"],
            f["effect_key"] if f["kind"] == "duplicate_effect" else "",
            frozenset(f["job_id"].split(",")),
        )
        for f in findings
        if f["rule_id"] in PACK_RULES or not user
    )
    assert all(n == 1 for n in lies.values()), lies
    fingerprints = Counter(f["fingerprint"] for f in findings)
    assert all(n == 1 for n in fingerprints.values()), fingerprints
    # a pack finding never repeats a lie a user rule reports
    said = {
        (f["kind"], f["system"], f["effect_key"] if f["kind"] == "duplicate_effect" else "",
         frozenset(f["job_id"].split(",")))
        for f in findings if f["rule_id"] not in PACK_RULES
    }  # fmt: skip
    for f in findings:
        if f["rule_id"] in PACK_RULES:
            lie = (
                f["kind"],
                f["system"],
                f["effect_key"] if f["kind"] == "duplicate_effect" else "",
                frozenset(f["job_id"].split(",")),
            )
            assert lie not in said, f


def test_a_user_rule_on_declared_effects_reports_a_job_once_per_fingerprint(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {id: owed, severity: high, jobs: {}, expect: {declared: true}}\n")
    spans = tmp_path / "spans.jsonl"
    spans.write_text(json.dumps(spans_to_request(_declared_job("j4", "email.sent,sms.sent", []))))
    result = scan([spans, "--rules", rules, "--no-packs"], tmp_path)
    assert [(f["rule_id"], f["kind"], f["job_id"]) for f in result.findings] == [
        ("owed", "unconfirmed_done", "j4")
    ]


# --- never one fingerprint twice, whatever the input repeats --------------------------------


def _publish(job_id: str, span: str, parent: str = "") -> dict:
    """A producer span in the probes convention (an enqueue of ``job_id``)."""
    return {
        "trace": f"t-{job_id}", "span": span, "name": "mail send", "kind": "producer",
        "start": "0ms", "end": "1ms", **({"parent": parent} if parent else {}),
        "attributes": {"job.system": "dramatiq", "job.id": job_id, "job.name": "shop.mail"},
    }  # fmt: skip


def _fingerprints_once(findings: list[dict]) -> None:
    counts = Counter(f["fingerprint"] for f in findings)
    assert findings and set(counts.values()) == {1}, counts


def test_nested_publish_spans_of_one_lost_job_are_one_finding(tmp_path: Path) -> None:
    # two publish spans per message (a blocking channel and the channel under it)
    spans = [_publish("lost-1", "outer"), _publish("lost-1", "inner", parent="outer")]
    findings = _packs_scan(tmp_path, spans)
    assert [(f["kind"], f["job_id"]) for f in findings] == [("lost_job", "lost-1")]


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_same_spans_given_twice_or_repeated_in_a_file_report_each_fingerprint_once(
    tmp_path: Path, system: str
) -> None:
    once = scan_once([capture(system)]).findings
    twice_file = tmp_path / "twice.jsonl"
    twice_file.write_text(capture(system).read_text() * 2)
    for args in ([capture(system), capture(system)], [twice_file]):
        findings = scan(args, tmp_path).findings
        _fingerprints_once(findings)
        assert sorted(f["fingerprint"] for f in findings) == sorted(f["fingerprint"] for f in once)


def test_a_packs_repeat_of_a_user_duplicate_is_compared_as_the_set_of_jobs(tmp_path: Path) -> None:
    # jobs a and b each confirm ORD-9: the user rule and side-effects-at-most-once report the
    # same lie whatever order each lists the two jobs in
    spans = [
        *_declared_job("b", "", [{"key": "ORD-9"}]),
        *_declared_job("a", "", [{"key": "ORD-9", "start": "30ms"}]),
    ]
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(spans_to_request(spans)) + "\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: mail-once, severity: high, jobs: {}, expect: {effect: email.sent},"
        " checks: [at_most_once]}\n"
    )
    findings = scan([path, "--rules", rules], tmp_path).findings
    duplicates = [f for f in findings if f["kind"] == "duplicate_effect"]
    assert [(f["rule_id"], sorted(f["job_id"].split(","))) for f in duplicates] == [
        ("mail-once", ["a", "b"])
    ]
    _fingerprints_once(findings)
