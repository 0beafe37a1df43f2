"""Real servers on 127.0.0.1 standing in for the alert sinks.

- ``HttpSink``: an aiohttp server in a thread of its own, recording every request. What it
  answers is scripted (``answer``), and it can hold requests (``hold()`` / ``release()``) or
  be slow (``delay_s``). ``slack``, ``pagerduty`` and ``alertmanager`` answer as those
  services document: 200 ``ok`` / 202 ``{"status": "success", …}`` / 200, and ``400`` when the
  body breaks the service's documented format (``tests.unit.alerts.schemas``), which is how a
  payload mistake shows up in these tests. ``alertmanager`` also keeps the alerts as
  Alertmanager would, by label set, to check ``endsAt``.
- ``SmtpSink``: aiosmtpd, optionally requiring STARTTLS (a certificate for 127.0.0.1 made with
  the ``openssl`` command) and AUTH; records every message it accepted with ``250``.
"""

from __future__ import annotations

import asyncio
import email
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.systems.smtp_server import free_port
from tests.unit.alerts import schemas


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived
    status: int = 0  # what was answered (0 until answered)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


Answer = Callable[[Received], tuple[int, str]]


def always(status: int = 200, text: str = "ok") -> Answer:
    return lambda r: (status, text)


class HttpSink:
    def __init__(self, answer: Answer | None = None, delay_s: float = 0.0) -> None:
        self.answer = answer or always()
        self.delay_s = delay_s
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self._hold_after = 0  # with _open cleared: requests after this many are held
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self) -> HttpSink:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.set()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(
            request.method,
            request.path,
            dict(request.headers),
            await request.read(),
            time.monotonic(),
        )
        with self._lock:
            self.requests.append(received)
            index = len(self.requests)
        while index > self._hold_after and not self._open.is_set():
            await asyncio.sleep(0.01)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status, text = self.answer(received)
        received.status = status
        if received.accepted:
            self.on_accepted(received)
        return web.Response(status=status, text=text)

    def on_accepted(self, received: Received) -> None:
        pass

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hold(self, after: int = 0) -> None:
        """Keep every request after the first ``after`` waiting for an answer until
        ``release()``."""
        self._hold_after = after
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def accepted(self) -> list[Received]:
        return [r for r in self.received() if r.accepted]

    def wait_for(self, count: int, timeout: float = 15.0, accepted: bool = True) -> list[Received]:
        """Wait until ``count`` requests were (accepted, or received); return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.accepted() if accepted else self.received()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        got = self.accepted() if accepted else self.received()
        raise AssertionError(f"expected {count} requests, got {len(got)}: {got}")


def _checked(schema: dict[str, Any], ok: tuple[int, str], then: Answer | None = None) -> Answer:
    """Answer 400 (as the service does) when the body breaks ``schema``, else ``then``/``ok``."""

    def answer(r: Received) -> tuple[int, str]:
        try:
            body = r.json()
        except ValueError:
            return 400, "invalid JSON"
        found = schemas.problems(body, schema)
        if found:
            return 400, "; ".join(found)
        return then(r) if then else ok

    return answer


def slack(then: Answer | None = None) -> HttpSink:
    return HttpSink(_checked(schemas.SLACK, (200, "ok"), then))


def pagerduty(then: Answer | None = None) -> HttpSink:
    ok = (202, json.dumps({"status": "success", "message": "Event processed"}))
    return HttpSink(_checked(schemas.PAGERDUTY, ok, then))


def webhook(then: Answer | None = None) -> HttpSink:
    return HttpSink(_checked(schemas.WEBHOOK, (200, "ok"), then))


class Alertmanager(HttpSink):
    """Alertmanager's ``POST /api/v2/alerts``: checks the body, keeps alerts by label set."""

    def __init__(self, then: Answer | None = None) -> None:
        checked = _checked(schemas.ALERTMANAGER, (200, ""), then)

        def answer(r: Received) -> tuple[int, str]:
            if r.path != "/api/v2/alerts" or r.method != "POST":
                return 404, "not found"
            return checked(r)

        super().__init__(answer)
        self.alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def on_accepted(self, received: Received) -> None:
        for alert in received.json():
            self.alerts[tuple(sorted(alert["labels"].items()))] = alert


@dataclass
class _Mailbox:
    messages: list[Message] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 2.0.0 Ok: queued as TEST1"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with the openssl command line (which
    ``scripts/services`` installs where it is missing)."""
    assert shutil.which("openssl"), "the openssl command is not installed (scripts/services)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class SmtpSink:
    """``with SmtpSink() as smtp: smtp.port; smtp.messages``; with ``tls=(cert, key)`` it
    requires STARTTLS, with ``users`` it requires AUTH (over TLS)."""

    def __init__(
        self, tls: tuple[Path, Path] | None = None, users: dict[str, str] | None = None
    ) -> None:
        import ssl

        self.port = free_port()
        self.box = _Mailbox(users=dict(users or {}))
        kwargs: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            kwargs.update(tls_context=context, require_starttls=True)
        if users:
            kwargs.update(
                authenticator=self.box.authenticate,
                auth_required=True,
                auth_require_tls=tls is not None,
            )
        self._controller = Controller(
            self.box, hostname="127.0.0.1", port=self.port, server_hostname="mail.test", **kwargs
        )

    @property
    def messages(self) -> list[Message]:
        with self.box.lock:
            return list(self.box.messages)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()
