"""Ground truth: what each shop job does, and which finding the auditor must raise for it.

Every system (Celery, RQ, BullMQ) runs the same shop job, ``send order confirmation``, once per
scenario (``ok`` twice). The scenario name travels with the job as an argument and selects the
job's behaviour; the behaviour itself lives in ``tests/systems/shop/behaviour.py`` (Python) and
``tests/systems/bullmq/shop.js`` (Node). This module is data only: the harness reads it to know
which jobs to enqueue, which finding kind each one must produce, and which real-world effects
(emails accepted by the SMTP server) to wait for before it stops the workers.

Finding kinds are the ones in docs/design.md: ``unconfirmed_done``, ``premature_done``,
``duplicate_effect``, ``failed_effect``, ``lost_job``; ``None`` means "no finding".
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEMS: tuple[str, ...] = ("celery", "rq", "bullmq")

#: Recipients at this domain are refused by the harness's SMTP server with ``550``.
REJECT_DOMAIN = "rejects.test"
#: Every other recipient uses this domain and is accepted with ``250``.
ACCEPT_DOMAIN = "example.test"

#: First order number per system, so keys never collide across systems: ORD-1001…, ORD-2001…
ORDER_BASE: dict[str, int] = {"celery": 1000, "rq": 2000, "bullmq": 3000}


@dataclass(frozen=True)
class Scenario:
    """One way a job can behave, and what it means for each system."""

    name: str
    description: str
    #: system -> expected finding kind (None: the job told the truth or failed visibly).
    expected: dict[str, str | None]
    #: system -> emails the SMTP server accepts for this job's order key, end to end.
    emails: dict[str, int]
    #: How many jobs of this scenario each system runs.
    jobs: int = 1
    #: The recipient is at REJECT_DOMAIN (the SMTP server answers 550).
    rejected_recipient: bool = False
    #: How the job system itself ends the job: "done" or "failed" (its own state, e.g. the
    #: Celery result backend, RQ's job status, BullMQ's completed/failed sets).
    final_state: str = "done"

    def expected_kind(self, system: str) -> str | None:
        return self.expected[system]


def _same(value):
    return {system: value for system in SYSTEMS}


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="ok",
        description="Honest job: sends the email, confirms after the 250 reply to DATA, then "
        "marks itself done.",
        expected=_same(None),
        emails=_same(1),
        jobs=2,
    ),
    Scenario(
        name="skipped",
        description="Marks itself done without sending anything: no smtp.send, no confirm.",
        expected=_same("unconfirmed_done"),
        emails=_same(0),
    ),
    Scenario(
        name="swallowed",
        description="The SMTP server refuses the recipient with 550; the job catches the "
        "exception and marks itself done anyway. smtp.send ends in ERROR, no confirm.",
        expected=_same("failed_effect"),
        emails=_same(0),
        rejected_recipient=True,
    ),
    Scenario(
        name="premature_sync",
        description="Writes job.done BEFORE sending, then sends and confirms inside the job: "
        "the confirmation ends a few ms after done_at.",
        expected=_same("premature_done"),
        emails=_same(1),
    ),
    Scenario(
        name="premature_thread",
        description="Marks itself done and hands the email to a background thread "
        "(Python threading.Thread / Node setTimeout) that sends ~500 ms later. In RQ the "
        "forked work-horse exits right after the job, the thread dies with it and the email "
        "is never sent.",
        expected={"celery": "premature_done", "rq": "unconfirmed_done", "bullmq": "premature_done"},
        emails={"celery": 1, "rq": 0, "bullmq": 1},
    ),
    Scenario(
        name="retry_duplicate",
        description="Sends and confirms, then raises a transient error; the framework retries "
        "and the retry sends and confirms again with the same order key.",
        expected=_same("duplicate_effect"),
        emails=_same(2),
    ),
    Scenario(
        name="retry_then_ok",
        description="The first attempt fails before sending; the framework retries and the "
        "retry sends, confirms and finishes.",
        expected=_same(None),
        emails=_same(1),
    ),
    Scenario(
        name="failed",
        description="Raises before sending, with no retry: the system records a visible "
        "failure, which is not a lie.",
        expected=_same(None),
        emails=_same(0),
        final_state="failed",
    ),
    Scenario(
        name="crash",
        description="The worker process dies (os._exit(137) / process.exit(137)) 2 s after SMTP "
        "MAIL FROM, on every delivery. Celery (default early ack): the message is gone and "
        "no span says so -> lost job. RQ: the parent worker records handle_job_failure -> "
        "visible failure. BullMQ: stalled twice -> failed 'job stalled more than allowable "
        "limit' -> visible failure.",
        expected={"celery": "lost_job", "rq": None, "bullmq": None},
        emails=_same(0),
        # Celery too: the pool's parent writes FAILURE (WorkerLostError) to the result backend,
        # but no span records it.
        final_state="failed",
    ),
    Scenario(
        name="crash_first_delivery",
        description="The worker process dies 2 s after MAIL FROM on the first delivery only; "
        "the system redelivers (Celery acks_late + reject_on_worker_lost, RQ Retry(max=1), "
        "BullMQ stalled-job redelivery) and the second delivery completes honestly.",
        expected=_same(None),
        emails=_same(1),
    ),
)

SCENARIOS_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}


def select(names: list[str] | None) -> list[Scenario]:
    """The scenarios to run, in the canonical order; ``None`` means all of them."""
    if names is None:
        return list(SCENARIOS)
    unknown = sorted(set(names) - SCENARIOS_BY_NAME.keys())
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}")
    return [s for s in SCENARIOS if s.name in names]
