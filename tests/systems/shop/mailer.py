"""Send the order-confirmation email over real SMTP, with the shop's hand instrumentation.

Uses the OpenTelemetry API only (tracer scope ``shop.jobs`` / ``1.0.0``), as hand-instrumented
job code does:

* ``smtp.send`` (CLIENT) wraps the whole SMTP conversation. Attributes ``server.address``,
  ``server.port`` (int), ``network.protocol.name``="smtp", ``email.to.domain``,
  ``side_effect.key`` (the order id) and ``job.id`` (the framework's job id), plus
  ``smtp.reply.code`` (the final reply: 250 after DATA, or the refusing code). A refused
  recipient raises, so the span ends with status ERROR and an ``exception`` event.
* ``side_effect.confirm`` (INTERNAL) is emitted only after the server answered 250 to DATA.
  Attributes ``side_effect.name``="email.sent", ``side_effect.key``, ``job.id``, ``job.system``.

The SMTP dialogue is spelled out step by step (instead of ``sendmail``) so that the crash
scenarios can kill the process right after ``MAIL FROM``, in the middle of the effect.
"""

from __future__ import annotations

import os
import smtplib
import time
from email.message import EmailMessage

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from tests.systems.shop import config, store

tracer = trace.get_tracer("shop.jobs", "1.0.0")

SENDER = "orders@shop.test"


def _message(order_id: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = recipient
    message["Subject"] = f"Your order {order_id} is confirmed"
    message["X-Order-Id"] = order_id
    message.set_content(f"Thank you! Order {order_id} is confirmed.\n")
    return message


def send_confirmation(
    *, job_id: str, system: str, order_id: str, recipient: str, crash_after_mail_from: bool = False
) -> None:
    """Send the email; raise ``smtplib.SMTPException`` if the server refuses it.

    With ``crash_after_mail_from`` the process hangs ``SHOP_CRASH_DELAY`` seconds after the
    server accepted MAIL FROM and then dies like a SIGKILLed / OOM-killed worker
    (``os._exit(137)``): no exception, no span end, no cleanup.
    """
    host, port = config.smtp_address()
    attributes = {
        "server.address": host,
        "server.port": port,
        "network.protocol.name": "smtp",
        "email.to.domain": recipient.rpartition("@")[2],
        "side_effect.key": order_id,
        "job.id": job_id,
    }
    with (
        tracer.start_as_current_span(
            "smtp.send", kind=SpanKind.CLIENT, attributes=attributes
        ) as span,
        smtplib.SMTP(host, port, timeout=10) as smtp,
    ):
        smtp.ehlo()
        code, reply = smtp.mail(SENDER)
        if code != 250:
            span.set_attribute("smtp.reply.code", code)
            raise smtplib.SMTPSenderRefused(code, reply, SENDER)
        if crash_after_mail_from:
            time.sleep(config.crash_delay())
            os._exit(137)
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            span.set_attribute("smtp.reply.code", code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        code, reply = smtp.data(_message(order_id, recipient).as_bytes())  # raises unless 250
        span.set_attribute("smtp.reply.code", code)

    # The server accepted the message: this, and only this, proves the effect happened.
    with tracer.start_as_current_span(
        "side_effect.confirm",
        kind=SpanKind.INTERNAL,
        attributes={
            "side_effect.name": "email.sent",
            "side_effect.key": order_id,
            "job.id": job_id,
            "job.system": system,
        },
    ):
        pass
    store.record_confirmation(order_id)
