"""What the job does per scenario, written against the public probes API only.

The job sends one email over SMTP; the verification (the server accepting DATA) is wrapped in
``probes.confirm("email.sent", key=order_id)``. The framework-specific task/actor/function is
decorated with ``probes.expects("email.sent")``. Markers in Redis (``attempt_started`` /
``attempt_ended``) let the runner know when every job has finished, independently of spans.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import smtplib
import time
from email.message import EmailMessage

import redis
from opentelemetry import trace

import probes
from tests.systems.probes_apps import config

SENDER = "orders@shop.test"

#: scenario -> finding kinds the auditor must report for that job (built-in packs).
SCENARIOS: dict[str, set[str]] = {
    "ok": set(),
    "skipped": {"unconfirmed_done"},
    "swallowed": {"failed_effect"},
    "retry_duplicate": {"duplicate_effect"},
}


class TransientError(Exception):
    """Worth a retry (the CRM timed out)."""


class PermanentError(Exception):
    """Not worth a retry (the order does not exist): a visible failure."""


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(config.redis_url())


def first_time(order_id: str, what: str) -> bool:
    return bool(_redis().set(f"probes-app:once:{order_id}:{what}", 1, nx=True, ex=3600))


def marker(order_id: str, what: str) -> None:
    _redis().incr(f"probes-app:{what}:{order_id}")
    _redis().expire(f"probes-app:{what}:{order_id}", 3600)


def count(client: redis.Redis, order_id: str, what: str) -> int:
    return int(client.get(f"probes-app:{what}:{order_id}") or 0)


def _message(order_id: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = SENDER, recipient
    message["Subject"] = f"Order {order_id} confirmed"
    message["X-Order-Id"] = order_id
    message.set_content(f"Order {order_id} is confirmed.\n")
    return message


def send_email(order_id: str, recipient: str, *, crash: bool = False) -> None:
    """Send the email; the confirmation span covers the SMTP conversation up to 250 on DATA."""
    host, port = config.smtp()
    with probes.confirm("email.sent", key=order_id), smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(SENDER)
        if crash:
            time.sleep(config.CRASH_DELAY)
            # the spans of the jobs before this one are out (on a loaded machine the collector
            # can take longer than CRASH_DELAY to answer): the crash loses only its own
            provider = trace.get_tracer_provider()
            if hasattr(provider, "force_flush"):
                provider.force_flush()
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-effect
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        smtp.data(_message(order_id, recipient).as_bytes())


def run(scenario: str, order_id: str, recipient: str) -> dict[str, str]:
    """One delivery of the job. Raises ``TransientError`` when the framework should retry."""
    marker(order_id, "attempt_started")
    try:
        if scenario == "skipped":
            pass  # the lie: "sent" without sending
        elif scenario == "swallowed":
            with contextlib.suppress(smtplib.SMTPException):  # the lie: the failure is swallowed
                send_email(order_id, recipient)
        elif scenario == "crash":
            send_email(order_id, recipient, crash=True)
        elif scenario == "crash_first_delivery":
            send_email(order_id, recipient, crash=first_time(order_id, "crash"))
        elif scenario == "premature":
            probes.mark_done()  # the lie: "done" before the email is sent
            send_email(order_id, recipient)
        elif scenario == "retry_then_ok" and first_time(order_id, "fail-before-send"):
            raise TransientError("crm timeout before the email was sent")
        elif scenario == "failed":
            raise PermanentError(f"order {order_id} does not exist")
        else:
            send_email(order_id, recipient)
            if scenario == "retry_duplicate" and first_time(order_id, "fail-after-send"):
                raise TransientError("crm timeout after the email was sent")
        return {"order": order_id, "status": "sent"}
    finally:
        marker(order_id, "attempt_ended")
