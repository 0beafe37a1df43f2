"""A real ``audit serve`` subprocess per test (or per module where sharing does not weaken the
test): free ports chosen by the OS (``--http-port 0 --grpc-port 0``, read back from the startup
line), a temporary ``--db``, ready once ``/healthz`` answers, and stopped with SIGTERM, which
must exit 0. The store is read only after the server stopped (DuckDB lets one process open it).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

AUDIT = str(Path(sys.executable).with_name("audit"))
_LISTENING = re.compile(
    r"OTLP/HTTP on https?://[^ ]+:(\d+)/v1/traces, OTLP/gRPC on [^ ]+:(\d+)(?: \(TLS\))?,"
)


@dataclass
class AuditServer:
    process: subprocess.Popen[bytes]
    db: Path
    log: Path
    http_port: int = 0
    grpc_port: int = 0
    # with --tls-cert: the certificate clients trust (self-signed in the tests)
    ca: Path | None = None
    # checked against the store after the server stopped (see ``verify``)
    expected: set[tuple[str, str]] = field(default_factory=set)
    forbidden: set[tuple[str, str]] = field(default_factory=set)

    @property
    def base(self) -> str:
        scheme = "http" if self.ca is None else "https"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    @property
    def url(self) -> str:
        return f"{self.base}/v1/traces"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait for the drain; returns the exit code."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        finally:
            self._reap_children()

    def kill(self) -> None:
        """SIGKILL the server, then its leftover decode workers (they outlive it: see
        ``test_crash.py``)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        for pid in _live_group_members(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _reap_children(self) -> None:
        # The server's decode workers (and multiprocessing's resource tracker) are in its
        # process group (start_new_session); they exit when their parent stops cleanly. Give
        # them a moment, then make sure: they are ours.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _live_group_members(self.process.pid):
            time.sleep(0.05)
        self.kill_leftovers()

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run SQL on the store (only once the server has stopped)."""
        assert not self.running(), "the store is locked while audit serve runs"
        con = duckdb.connect(str(self.db), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def stored_ids(self) -> list[tuple[str, str]]:
        return [(t, s) for t, s in self.query('SELECT "TraceId", "SpanId" FROM otel_traces')]

    def verify(self) -> None:
        ids = self.stored_ids()
        assert len(ids) == len(set(ids)), "a span is stored twice"
        assert self.expected <= set(ids), f"{len(self.expected - set(ids))} spans missing"
        assert not (self.forbidden & set(ids)), "a rejected span was stored"


def _live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (an exited child of a dead parent
    stays a zombie until init reaps it; it holds nothing)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def start_server(
    tmp_path: Path, *args: str, name: str = "server", ca: Path | None = None
) -> AuditServer:
    db = tmp_path / f"{name}.duckdb"
    return launch_server(
        tmp_path,
        db,
        "--db",
        str(db),
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        *args,
        name=name,
        ca=ca,
    )


def launch_server(
    tmp_path: Path,
    db: Path,
    *args: str,
    name: str = "server",
    env: dict[str, str] | None = None,
    ca: Path | None = None,
) -> AuditServer:
    """``audit serve ARGS`` (the caller chooses every flag; ``db`` is where the store will be,
    the ports must be free ones), healthy. ``ca``: the server speaks TLS with that (self-signed)
    certificate."""
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [AUDIT, "serve", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    server = AuditServer(process, db, log, ca=ca)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not server.running():
            raise AssertionError(f"audit serve exited {process.returncode}:\n{server.output()}")
        match = _LISTENING.search(server.output())
        if match:
            server.http_port, server.grpc_port = int(match[1]), int(match[2])
            try:
                health = httpx.get(
                    f"{server.base}/healthz", timeout=2, verify=str(ca) if ca else True
                )
            except httpx.TransportError:
                pass
            else:
                if health.status_code == 200 and health.json()["status"] == "ok":
                    return server
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"audit serve did not become healthy:\n{server.output()}")


def stop_cleanly(server: AuditServer) -> None:
    code = server.stop()
    assert code == 0, f"audit serve exited {code} on SIGTERM:\n{server.output()}"
    assert "audit serve: stopped;" in server.output()


@pytest.fixture
def audit_server(tmp_path: Path) -> Iterator[AuditServer]:
    """A server of its own; the test may stop it itself (and should, to read the store)."""
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        if server.running():
            stop_cleanly(server)


SMALL_BODY_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditServer]:
    """One server for a module's request/answer tests, with a 256 KiB ``--max-body-size``.
    Tests register the spans they expect stored (``expected``) or refused (``forbidden``);
    after SIGTERM the store must hold the expected ones, none of the forbidden, none twice."""
    server = start_server(
        tmp_path_factory.mktemp("shared"), "--max-body-size", str(SMALL_BODY_LIMIT)
    )
    try:
        yield server
    finally:
        stop_cleanly(server)
    server.verify()
