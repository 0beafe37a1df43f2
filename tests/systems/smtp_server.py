"""A real SMTP server (aiosmtpd) for the shop jobs to send their confirmation emails to.

It runs in a background thread of the harness process, on a free port of 127.0.0.1. Recipients
at ``REJECT_DOMAIN`` are refused with ``550`` at RCPT TO, which is how the ``swallowed``
scenario gets a failing side effect; everything else is accepted with ``250`` after DATA.

The server also counts the messages it accepted per order key (the ``X-Order-Id`` header the
shop puts on every email), so the harness can check the real-world outcome of each job against
the ground truth in ``scenarios.py``, independently of any span.
"""

from __future__ import annotations

import email
import socket
import threading
from collections import Counter

from aiosmtpd.controller import Controller

from tests.systems.scenarios import REJECT_DOMAIN


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (aiosmtpd's Controller cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _ShopMailHandler:
    """aiosmtpd handler: refuse REJECT_DOMAIN recipients, count accepted mail per order."""

    def __init__(self, reject_domain: str) -> None:
        self.reject_domain = reject_domain.lower()
        self._lock = threading.Lock()
        self._accepted: Counter[str] = Counter()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rpartition("@")[2].lower()
        if domain == self.reject_domain:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        order_id = message.get("X-Order-Id", "?")
        with self._lock:
            self._accepted[order_id] += 1
        return "250 2.0.0 Message accepted for delivery"

    def accepted(self) -> dict[str, int]:
        with self._lock:
            return dict(self._accepted)


class SmtpServer:
    """Context manager: ``with SmtpServer() as smtp: smtp.port; smtp.accepted()``."""

    def __init__(self, host: str = "127.0.0.1", reject_domain: str = REJECT_DOMAIN) -> None:
        self.host = host
        self.port = free_port(host)
        self._handler = _ShopMailHandler(reject_domain)
        self._controller = Controller(
            self._handler, hostname=host, port=self.port, server_hostname="smtp.shop.test"
        )

    def accepted(self) -> dict[str, int]:
        """Messages accepted so far, by ``X-Order-Id``."""
        return self._handler.accepted()

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()
