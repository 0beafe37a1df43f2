"""The order activities: real emails to the harness's SMTP server, each confirmed with probes.

What an activity does is decided by the order's ``mode`` (``workflows.MODES``), so honest and
lying runs share one code path; the SMTP server, not any span, says what really happened.
Every attempt is appended to ``ATTEMPTS_LOG`` (one JSON line), the ground truth of which
activities ran at all.
"""

from __future__ import annotations

import json
import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from temporalio import activity
from temporalio.exceptions import ApplicationError

import probes

ACCEPT_DOMAIN = "example.test"
REJECT_DOMAIN = "rejects.test"  # the SMTP server answers 550 at RCPT TO


@dataclass(frozen=True)
class Order:
    order_id: str
    mode: str


def _log_attempt(name: str, order: Order) -> None:
    info = activity.info()
    line = {"activity": name, "workflow_id": info.workflow_id, "attempt": info.attempt,
            "order": order.order_id, "mode": order.mode}  # fmt: skip
    with open(os.environ["TEMPORAL_APP_ATTEMPTS_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


def _send(to: str, key: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "shop@example.test"
    message["To"] = to
    message["Subject"] = subject
    message["X-Order-Id"] = key
    message.set_content(subject)
    port = int(os.environ["TEMPORAL_APP_SMTP_PORT"])
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


@activity.defn
@probes.expects("payment.captured")
async def charge_card(order: Order) -> str:
    _log_attempt("charge_card", order)
    with probes.confirm("payment.captured", key=order.order_id):
        pass  # the payment provider is this process: the capture cannot fail here
    return "captured"


@activity.defn
@probes.expects("email.sent")
async def send_receipt(order: Order) -> str:
    _log_attempt("send_receipt", order)
    key = f"{order.order_id}:receipt"
    if order.mode == "missing_confirmation":
        return "sent"  # the lie: says sent, sent nothing
    if order.mode == "retry_then_ok" and activity.info().attempt == 1:
        raise RuntimeError("SMTP relay not ready")  # before sending: the retry sends once
    with probes.confirm("email.sent", key=key):
        _send(f"{order.order_id}@{ACCEPT_DOMAIN}", key, f"Receipt for {order.order_id}")
    if order.mode == "duplicate" and activity.info().attempt == 1:
        raise RuntimeError("worker lost the reply")  # after sending: the retry sends again
    return "sent"


@activity.defn
@probes.expects("email.sent")
async def notify_warehouse(order: Order) -> str:
    _log_attempt("notify_warehouse", order)
    key = f"{order.order_id}:warehouse"
    domain = REJECT_DOMAIN if order.mode == "swallowed" else ACCEPT_DOMAIN
    try:
        with probes.confirm("email.sent", key=key):
            _send(f"warehouse@{domain}", key, f"Pick order {order.order_id}")
    except smtplib.SMTPRecipientsRefused:
        pass  # the lie: the 550 is swallowed and the activity reports success
    return "notified"


@activity.defn
async def refuse(order: Order) -> str:
    _log_attempt("refuse", order)
    raise ApplicationError("card declined", non_retryable=True)  # a visible failure


ACTIVITIES = [charge_card, send_receipt, notify_warehouse, refuse]
