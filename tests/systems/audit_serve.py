"""Run the product's own ``audit serve`` as the OTLP receiver for a harness run.

``with audit_serve(db, record=path) as endpoint: run_system(..., endpoint, ...)`` starts
``python -m auditor.cli.main serve`` on a free OTLP/HTTP port with a DuckDB store (and, with
``record``, an OTLP JSON-lines copy of every accepted request), yields its base URL, and on
exit stops it with SIGTERM, which drains: everything acknowledged is committed before it exits.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.systems.harness import REPO_ROOT, HarnessError
from tests.systems.smtp_server import free_port

HOST = "127.0.0.1"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((HOST, port)) == 0


@contextlib.contextmanager
def audit_serve(
    db: Path,
    record: Path | None = None,
    log_path: Path | None = None,
    start_timeout: float = 30.0,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Yield the OTLP/HTTP endpoint (``http://127.0.0.1:<port>``) of a running ``audit serve``."""
    port = free_port(HOST)
    argv = [
        sys.executable, "-m", "auditor.cli.main", "serve",
        "--db", str(db), "--host", HOST, "--http-port", str(port), "--grpc-port", "0",
    ]  # fmt: skip
    if record is not None:
        argv += ["--record", str(record)]
    argv += list(args)  # e.g. --rules
    log_path = log_path or Path(db).with_suffix(".serve.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not _listening(port):
            if proc.poll() is not None:
                raise HarnessError(f"audit serve exited with {proc.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise HarnessError(f"audit serve did not listen on {port} in {start_timeout:.0f}s")
            time.sleep(0.1)
        yield f"http://{HOST}:{port}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise HarnessError(f"audit serve did not stop in 30 s; see {log_path}") from None
    if code != 0:
        raise HarnessError(f"audit serve exited with {code}; see {log_path}")
