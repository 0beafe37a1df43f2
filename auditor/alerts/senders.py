"""Delivering one finished payload to one sink, and saying whether the sink accepted it.

I/O: HTTP with httpx (webhook, Slack, Alertmanager, PagerDuty), SMTP with smtplib (email).
A sender never raises for a failed delivery: ``send`` returns an ``Outcome``:

- ``ok`` only when the sink accepted the message: an HTTP 2xx, or SMTP ``250`` after DATA
  (some recipients may have been refused; the answer says which). Nothing else counts.
- ``retry`` when trying again later can help: no answer (connection refused, timeout), HTTP
  408, 425, 429 and 5xx (``Retry-After`` is read), an SMTP ``4xx``. Other answers (HTTP 4xx,
  SMTP ``5xx``, a TLS or authentication failure) are final: the same message would get
  the same answer.

Every error text goes through ``SinkConfig.redact``: a sink's URL, header values, routing
key and password never reach a log, an answer or the store. Every request has the sink's
``timeout``; HTTP redirects are not followed (a moved endpoint is a configuration error).
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from auditor import __version__
from auditor.alerts.config import SinkConfig
from auditor.clock import SYSTEM_CLOCK, Clock

RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Outcome:
    ok: bool
    answer: str = ""  # what the sink said: "HTTP 202", "SMTP 250 2.0.0 Ok"; "" for no answer
    error: str = ""  # why it was not accepted, redacted; "" when ok
    retry: bool = False
    retry_after_s: float | None = None


class Sender(Protocol):
    def send(self, body: Any, message_id: str) -> Outcome: ...

    def close(self) -> None: ...


def _tls_context(sink: SinkConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=sink.ca_file or None)


def _retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class HttpSender:
    """POSTs JSON to the sink's URL; one connection pool per sink."""

    def __init__(self, sink: SinkConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.sink = sink
        self.clock = clock
        self.client = httpx.Client(
            timeout=httpx.Timeout(sink.timeout_s),
            verify=_tls_context(sink),
            follow_redirects=False,
            headers={"User-Agent": f"auditor/{__version__}"},
        )

    def send(self, body: Any, message_id: str) -> Outcome:
        sink = self.sink
        try:
            response = self.client.post(sink.url, json=body, headers=dict(sink.headers))
        except httpx.TimeoutException:
            return Outcome(False, error=f"no answer within {sink.timeout_s:g}s", retry=True)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            return Outcome(False, error=sink.redact(f"cannot reach the sink: {reason}"), retry=True)
        status = response.status_code
        answer = f"HTTP {status}"
        if 200 <= status < 300:
            return Outcome(True, answer)
        text = " ".join(response.text.split())[:200]
        retry = status in RETRY_STATUSES or status >= 500
        return Outcome(
            False,
            answer,
            error=sink.redact(f"{answer}: {text}" if text else answer),
            retry=retry,
            retry_after_s=_retry_after(response.headers.get("Retry-After"), self.clock.now())
            if retry
            else None,
        )

    def close(self) -> None:
        self.client.close()


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"SMTP {code} {' '.join(words.split())}".strip()


class SmtpSender:
    """One SMTP session per message: EHLO, STARTTLS (unless ``starttls: false``), AUTH when a
    username is set, MAIL, RCPT for each recipient, DATA."""

    def __init__(self, sink: SinkConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        assert sink.email is not None
        self.sink = sink
        self.settings = sink.email
        self.clock = clock

    def message(self, body: dict[str, Any], message_id: str) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = body["subject"]
        mail["From"] = self.settings.sender
        mail["To"] = ", ".join(self.settings.to)
        mail["Date"] = email.utils.formatdate(self.clock.now_ns() / 1e9, usegmt=True)
        mail["Message-ID"] = f"<{message_id}@auditor>"
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(body["text"])
        return mail

    def send(self, body: Any, message_id: str) -> Outcome:
        s = self.settings
        mail = self.message(body, message_id)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=self.sink.timeout_s) as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=_tls_context(self.sink))
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password)
                code, text = smtp.mail(s.sender)
                if code != 250:
                    return self._refused(code, text)
                refused = []
                accepted = 0
                last = (code, text)
                for rcpt in s.to:
                    last = smtp.rcpt(rcpt)
                    if last[0] in (250, 251):
                        accepted += 1
                    else:
                        refused.append(f"{rcpt} ({last[0]})")
                if not accepted:
                    smtp.rset()
                    return self._refused(*last)
                # CRLF line ends: smtplib sends bytes as they are, and SMTP lines end in CRLF
                code, text = smtp.data(mail.as_bytes(policy=email.policy.SMTP))
                if code != 250:
                    return self._refused(code, text)
                answer = _reply(code, text)
                if refused:
                    answer += f"; refused: {', '.join(refused)}"
                return Outcome(True, answer)
        except smtplib.SMTPResponseException as exc:
            return self._refused(exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPNotSupportedError as exc:
            return Outcome(False, error=self.sink.redact(f"the server refused: {exc}"))
        except ssl.SSLError as exc:
            return Outcome(False, error=self.sink.redact(f"TLS failed: {exc}"))
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {self.sink.timeout_s:g}s"
            else:
                reason = str(exc) or type(exc).__name__
            return Outcome(
                False, error=self.sink.redact(f"cannot reach the sink: {reason}"), retry=True
            )

    def _refused(self, code: int, text: bytes | str) -> Outcome:
        answer = _reply(code, text)
        return Outcome(False, answer, error=self.sink.redact(answer), retry=400 <= code < 500)

    def close(self) -> None:
        pass


def sender_for(sink: SinkConfig, clock: Clock = SYSTEM_CLOCK) -> Sender:
    return SmtpSender(sink, clock) if sink.type == "email" else HttpSender(sink, clock)
