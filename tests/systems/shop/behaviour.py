"""What the shop job does in each scenario (see ``tests/systems/scenarios.py`` for the catalogue).

``run_job`` is framework-neutral: the Celery task and the RQ job function call it with the
framework's job id and translate ``TransientError`` into their own retry mechanism.

"Marking the job done" means writing ``status=completed`` to the shop's store and, at that
moment, adding the ``job.done`` span event (attributes ``job.id``, ``job.status``,
``side_effect.key``) to the span that is active while the job code runs.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time

from opentelemetry import trace

from tests.systems.scenarios import SCENARIOS_BY_NAME
from tests.systems.shop import mailer, store

log = logging.getLogger("shop.jobs")

#: How long the premature_thread scenario's background thread waits before sending.
BACKGROUND_SEND_DELAY = 0.5


class TransientError(Exception):
    """A failure worth retrying (the CRM timed out)."""


class PermanentError(Exception):
    """A failure that no retry will fix."""


def mark_done(job_id: str, order_id: str) -> None:
    store.mark_completed(order_id)
    trace.get_current_span().add_event(
        "job.done", {"job.id": job_id, "job.status": "completed", "side_effect.key": order_id}
    )


def run_job(*, system: str, job_id: str, order_id: str, scenario: str, recipient: str) -> dict:
    """Run one delivery of the job; returns the job's result (what it claims happened)."""
    if scenario not in SCENARIOS_BY_NAME:
        raise PermanentError(f"unknown scenario {scenario!r}")

    def send(crash_after_mail_from: bool = False) -> None:
        mailer.send_confirmation(
            job_id=job_id,
            system=system,
            order_id=order_id,
            recipient=recipient,
            crash_after_mail_from=crash_after_mail_from,
        )

    done = {"order": order_id, "status": "sent"}

    if scenario == "skipped":
        # The lie: "sent", without sending.
        mark_done(job_id, order_id)
        return done

    if scenario == "swallowed":
        try:
            send()
        except smtplib.SMTPException as exc:
            log.warning("could not send confirmation for %s: %s (ignored)", order_id, exc)
        mark_done(job_id, order_id)
        return done

    if scenario == "premature_sync":
        mark_done(job_id, order_id)
        send()
        return done

    if scenario == "premature_thread":

        def send_later() -> None:
            time.sleep(BACKGROUND_SEND_DELAY)
            send()

        mark_done(job_id, order_id)
        # A plain thread does not inherit the OpenTelemetry context: its spans are roots.
        threading.Thread(target=send_later, name=f"send-{order_id}").start()
        return done

    if scenario == "retry_then_ok" and store.first_time(order_id, "fail-before-send"):
        raise TransientError("crm timeout")

    if scenario == "failed":
        raise PermanentError(f"order {order_id}: customer record not found")

    if scenario == "crash":
        send(crash_after_mail_from=True)  # never returns
    elif scenario == "crash_first_delivery":
        send(crash_after_mail_from=store.first_time(order_id, "crash"))
    else:
        send()  # ok, retry_duplicate, retry_then_ok

    if scenario == "retry_duplicate" and store.first_time(order_id, "fail-after-send"):
        raise TransientError("crm timeout after the email was sent")

    mark_done(job_id, order_id)
    return done
