"""Fixed reports for the renderer tests and their golden files.

``rich_report()`` exercises every finding kind, every severity, evidence spans, a rule from a
relative file, a built-in rule with its packaged (absolute) path, a generated rule without a
source, a rule only a finding names, a finding below ``--fail-on``, a triaged finding, and text
that needs escaping in each format (pipes, newlines, ``%``, ``:``, ``,``, ``<``, a control
character). ``clean_report()`` judged jobs and found nothing. Both are constants: changing
them changes the goldens (``AUDITOR_UPDATE_GOLDENS=1``).
"""

from __future__ import annotations

from auditor.findings.model import Finding, Kind, RuleInfo, Severity, SpanRef, State, Triage
from auditor.findings.report import CheckedJob, Report

TRACE_A = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_B = "0af7651916cd43dd8448eb211c80319c"
TRACE_C = "5b8efff798038103d269b633813fc60c"
TRACE_D = "d4cda95b652f4a1592b449d5929fda1b"

RULES = {
    "notify-email-confirmed": RuleInfo(
        id="notify-email-confirmed",
        title="Notification emails are accepted by the relay",
        severity=Severity.HIGH,
        description="Every send_* job marked done has an email.sent confirmation in its trace.",
        runbook="https://runbooks.example/email",
        source="rules/notify.yaml",
        line=3,
        labels=(("team", "growth"),),
    ),
    "payments-capture-once": RuleInfo(
        id="payments-capture-once",
        title="A payment is captured at most once",
        severity=Severity.CRITICAL,
        source="rules/payments.yaml",
        line=12,
        labels=(("team", "billing"), ("tier", "1")),
    ),
    "ledger-write-before-done": RuleInfo(
        id="ledger-write-before-done",
        title="Ledger rows are written before the job is marked done",
        severity=Severity.MEDIUM,
        source="/opt/venv/lib/python3.12/site-packages/auditor/_builtin_rules/packs/ledger.yaml",
        line=7,
    ),
    "celery-jobs-complete": RuleInfo(
        id="celery-jobs-complete",
        title="Every enqueued Celery job runs within 15m",
        severity=Severity.HIGH,
        source="rules/packs/celery.yaml",
        line=1,
    ),
    "adhoc.webhook-ok": RuleInfo(
        id="adhoc.webhook-ok",
        title="",
        severity=Severity.LOW,
    ),
}

FINDINGS = (
    Finding(
        rule_id="notify-email-confirmed",
        kind=Kind.UNCONFIRMED_DONE,
        severity=Severity.HIGH,
        state=State.OPEN,
        system="celery",
        job_id="3f2a9c1e-8b7d-4e2f-9a1b-5c6d7e8f9a0b",
        job_name="tasks.send_welcome",
        effect_key="",
        trace_id=TRACE_A,
        span_id="00f067aa0ba902b7",
        queue="mail",
        attempt=1,
        done_at_ns=1_767_225_600_000_000_000,
        effect_name="email.sent",
        service="worker-mail",
        message="marked done, but no email.sent confirmation in its trace",
        evidence=(
            SpanRef(
                role="job_run",
                trace_id=TRACE_A,
                span_id="00f067aa0ba902b7",
                name="run/tasks.send_welcome",
                service="worker-mail",
                start_ns=1_767_225_599_900_000_000,
                end_ns=1_767_225_600_000_000_000,
                status="Ok",
            ),
            SpanRef(
                role="nearest_miss",
                trace_id=TRACE_B,
                span_id="b7ad6b7169203331",
                name="side_effect.confirm",
                service="worker-mail",
                status="Ok",
                note="side_effect.key is N-1002 | expected N-1001",
            ),
        ),
        labels=(("team", "growth"),),
    ),
    Finding(
        rule_id="notify-email-confirmed",
        kind=Kind.FAILED_EFFECT,
        severity=Severity.HIGH,
        state=State.PENDING,
        system="celery",
        job_id="17",
        job_name="tasks.send_digest",
        effect_key="",
        trace_id=TRACE_C,
        message="done, yet smtp.send failed: 421 <relay busy>, try later\nretry=no",
        evidence=(
            SpanRef(
                role="failed_span",
                trace_id=TRACE_C,
                span_id="53995c3f42cd8ad8",
                name="smtp.send",
                status="Error",
                note="421 4.7.0 try again later",
            ),
        ),
    ),
    Finding(
        rule_id="payments-capture-once",
        kind=Kind.DUPLICATE_EFFECT,
        severity=Severity.CRITICAL,
        state=State.OPEN,
        system="rq",
        job_id="",
        job_name="",
        effect_key="ORD-1001",
        trace_id=TRACE_D,
        effect_name="payment.captured",
        message="payment.captured confirmed 2 times for key ORD-1001 (100% over)",
        evidence=(
            SpanRef(role="effect", trace_id=TRACE_D, span_id="a1", name="side_effect.confirm"),
            SpanRef(role="effect", trace_id=TRACE_D, span_id="a2", name="side_effect.confirm"),
        ),
    ),
    Finding(
        rule_id="ledger-write-before-done",
        kind=Kind.PREMATURE_DONE,
        severity=Severity.MEDIUM,
        state=State.OPEN,
        system="dramatiq",
        job_id="c0ffee00-0000-4000-8000-000000000001",
        job_name="ledger.post",
        effect_key="LEDGER-7",
        trace_id=TRACE_B,
        message="marked done 42ms before ledger.row ended",
    ),
    Finding(
        rule_id="celery-jobs-complete",
        kind=Kind.LOST_JOB,
        severity=Severity.HIGH,
        state=State.OPEN,
        system="celery",
        job_id="9d1c2b3a-aaaa-bbbb-cccc-000000000042",
        job_name="tasks.charge",
        effect_key="",
        trace_id=TRACE_D,
        message="enqueued, no job run within 15m",
        triage=Triage.ACKNOWLEDGED,
        evidence=(
            SpanRef(
                role="enqueue",
                trace_id=TRACE_D,
                span_id="e1",
                name="apply_async/tasks.charge",
                service="api",
            ),
        ),
    ),
    Finding(
        rule_id="adhoc.webhook-ok",
        kind=Kind.UNCONFIRMED_DONE,
        severity=Severity.LOW,
        state=State.OPEN,
        system="arq",
        job_id="w-1",
        job_name="hooks.deliver",
        effect_key="",
        trace_id="",
        message="- no webhook 2xx \x1b[31m# within 5m",
        triage=Triage.FALSE_POSITIVE,
    ),
    Finding(
        rule_id="orphan-rule",
        kind=Kind.UNCONFIRMED_DONE,
        severity=Severity.INFO,
        state=State.OPEN,
        system="celery",
        job_id="55",
        job_name="tasks.noop",
        effect_key="",
        trace_id=TRACE_A,
        message="informational: no confirmation",
    ),
)

CHECKED = (
    CheckedJob("notify-email-confirmed", "celery", FINDINGS[0].job_id, "tasks.send_welcome"),
    CheckedJob("notify-email-confirmed", "celery", "17", "tasks.send_digest"),
    CheckedJob("notify-email-confirmed", "celery", "18", "tasks.send_digest"),
    CheckedJob("notify-email-confirmed", "celery", "19", "tasks.send_reset"),
    CheckedJob("payments-capture-once", "rq", "p-1", "payments.capture"),
    CheckedJob("payments-capture-once", "rq", "p-2", "payments.capture"),
    CheckedJob("ledger-write-before-done", "dramatiq", FINDINGS[3].job_id, "ledger.post"),
    CheckedJob("ledger-write-before-done", "dramatiq", "c0ffee00-2", "ledger.post"),
    CheckedJob("adhoc.webhook-ok", "arq", "w-1", "hooks.deliver"),
    CheckedJob("adhoc.webhook-ok", "arq", "w-2", "hooks.deliver"),
    CheckedJob("orphan-rule", "celery", "55", "tasks.noop"),
)


def rich_report() -> Report:
    return Report(
        findings=FINDINGS,
        rules=dict(RULES),
        checked=CHECKED,
        inputs=("traces/run-1.jsonl",),
        spans=1234,
        fail_on=Severity.LOW,
        baselined=2,
        tool_version="9.9.9",
    )


def clean_report() -> Report:
    return Report(
        findings=(),
        rules={k: RULES[k] for k in ("notify-email-confirmed", "celery-jobs-complete")},
        checked=CHECKED[:4],
        inputs=("traces/run-2.jsonl",),
        spans=88,
        fail_on=Severity.HIGH,
        tool_version="9.9.9",
    )
