"""Good rule files load into the typed model with every default applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.findings.model import Kind, Severity
from auditor.rules.loader import load_rule_files, load_rule_text
from auditor.rules.model import (
    Correlate,
    Expect,
    JobSelector,
    KeyMap,
    Location,
    Rule,
    SpanSelector,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "rules"


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)


def test_the_design_example_loads_verbatim(in_data: None) -> None:
    rules = load_rule_files(["good_design_example.yaml"])

    assert rules.rules == (
        Rule(
            id="notify-email-confirmed",
            title="Notification emails are accepted by the relay",
            severity=Severity.HIGH,
            jobs=JobSelector(system="celery", name="tasks.send_*", attributes=(("queue", "mail"),)),
            expect=Expect(effect="email.sent", correlate=Correlate.TRACE, within_s=300.0),
            checks=("confirmed", "before_done", "at_most_once", "effect_ok"),
            labels=(("team", "growth"),),
            runbook="https://runbooks.example/email",
            location=Location("good_design_example.yaml", 2, 5),
        ),
        Rule(
            id="celery-jobs-complete",
            title="celery-jobs-complete",
            severity=Severity.HIGH,
            jobs=JobSelector(system="celery"),
            expect=None,
            checks=("complete_within",),
            complete_within_s=900.0,
            location=Location("good_design_example.yaml", 22, 5),
        ),
    )


def test_the_design_example_rules_raise_the_kinds_their_checks_map_to(in_data: None) -> None:
    email, complete = load_rule_files(["good_design_example.yaml"])

    assert email.finding_kinds() == (
        Kind.UNCONFIRMED_DONE,
        Kind.PREMATURE_DONE,
        Kind.DUPLICATE_EFFECT,
        Kind.FAILED_EFFECT,
    )
    assert complete.finding_kinds() == (Kind.LOST_JOB,)


def test_every_optional_key_is_normalized_for_the_compiler(in_data: None) -> None:
    smtp, ledger, payments = load_rule_files(["good_span_selector.yaml"])

    # Merged from the x-defaults anchor; label and attribute values become text.
    assert smtp.severity is Severity.MEDIUM
    assert smtp.labels == (("paging", "true"), ("team", "payments"), ("tier", "1"))
    assert smtp.description == "The relay accepted the message (SMTP 250) in the job's trace."
    assert smtp.title == "smtp-reply-250"
    assert smtp.jobs == JobSelector(
        system="rq",
        name="mail.*",
        queue="mail",
        attributes=(("priority", "high"), ("retries", "0")),
        where="job_name NOT LIKE '%.test'",
    )
    assert smtp.expect == Expect(
        span=SpanSelector(
            name="smtp.*",
            kind="client",
            status="ok",
            attributes=(("smtp.reply.code", "250"), ("smtp.tls", "true")),
            where="Duration < 30000000000",
        ),
        correlate=Correlate.LINK,
        within_s=5400.0,
        tolerance_s=0.005,
    )
    assert smtp.checks == ("confirmed", "effect_ok")  # canonical order, not the file's

    assert ledger.enabled is False
    assert ledger.expect is not None
    assert ledger.expect.key == KeyMap(job="job.id", effect="job.id")
    assert ledger.expect.tolerance_s == 0.002
    assert ledger.checks == (
        "confirmed",
        "before_done",
        "at_most_once",
        "effect_ok",
        "complete_within",
    )
    assert ledger.complete_within_s == 90.0

    assert payments.expect is not None
    assert payments.expect.key == KeyMap(job="order.id", effect="side_effect.key")


def test_a_rule_knows_where_each_of_its_fields_is_written(in_data: None) -> None:
    smtp = load_rule_files(["good_span_selector.yaml"]).rules[0]

    assert smtp.location == Location("good_span_selector.yaml", 7, 5)
    assert smtp.location_of("jobs.where") == Location("good_span_selector.yaml", 15, 14)
    assert smtp.location_of("expect.span.where") == Location("good_span_selector.yaml", 22, 16)
    assert smtp.location_of("no.such.field") == smtp.location


def test_disabled_rules_are_loaded_but_not_enabled(in_data: None) -> None:
    rules = load_rule_files(["good_span_selector.yaml"])

    assert [r.id for r in rules] == ["smtp-reply-250", "ledger.row-by-key", "payments_by_order"]
    assert [r.id for r in rules.enabled()] == ["smtp-reply-250", "payments_by_order"]
    assert rules.get("ledger.row-by-key") is rules.rules[1]
    assert rules.get("nope") is None


def test_the_effect_shorthand_is_a_side_effect_confirm_span_with_that_name() -> None:
    (rule,) = load_rule_text(
        "rules: [{id: e, severity: low, jobs: {}, expect: {effect: email.sent}}]"
    )

    assert rule.expect is not None
    assert rule.expect.effect_span == SpanSelector(
        name="side_effect.confirm", attributes=(("side_effect.name", "email.sent"),)
    )


def test_an_empty_rule_list_is_a_valid_file() -> None:
    assert len(load_rule_text("rules: []\n")) == 0


def test_a_rule_info_carries_what_reports_show() -> None:
    (rule,) = load_rule_text(
        "rules:\n  - id: r\n    title: T\n    severity: low\n    jobs: {}\n"
        "    complete_within: 1m\n    labels: {team: a}\n",
        "r.yaml",
    )

    info = rule.info()
    assert (info.id, info.title, info.severity, info.source, info.line, info.labels) == (
        "r",
        "T",
        Severity.LOW,
        "r.yaml",
        2,
        (("team", "a"),),
    )
