"""Secrets never reach ``audit serve``'s log: not the bearer token, not an alert sink's URL.

A real server at ``--log-level debug`` gets both secrets the documented way (``${VAR}`` in
``audit.yaml``), receives a capture with lies, and keeps failing to deliver their alerts to a
webhook that answers 503 and echoes its path (the secret) back; its whole output is then
searched for the secrets.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.alerts.fakes import HttpSink, always
from tests.integration.receivers.capture import RULES, export_capture
from tests.integration.receivers.conftest import launch_server, stop_cleanly

pytestmark = pytest.mark.integration

TOKEN = "t0ken-never-logged-9c2e"
HOOK_SECRET = "h00k-never-logged-71aa"


def test_the_token_and_the_sink_url_secret_are_not_logged(tmp_path: Path) -> None:
    with HttpSink(always(503, f"no route for /hook/{HOOK_SECRET}")) as hook:
        config = tmp_path / "audit.yaml"
        config.write_text(
            "token: ${TEST_AUDIT_TOKEN}\n"
            "alerts:\n"
            f"  - {{sink: webhook, name: hook, url: 'http://127.0.0.1:{hook.port}/hook/"
            "${TEST_HOOK_SECRET}'}\n"
        )
        env = {**os.environ, "TEST_AUDIT_TOKEN": TOKEN, "TEST_HOOK_SECRET": HOOK_SECRET}
        db = tmp_path / "server.duckdb"
        server = launch_server(
            tmp_path, db, "--db", str(db), "--http-port", "0", "--grpc-port", "0",
            "--config", str(config), "--rules", str(RULES), "--log-level", "debug",
            "--evaluation-interval", "0.2s", "--decode-workers", "1",
            env=env,
        )  # fmt: skip
        try:
            export_capture(server, TOKEN)
            # a wrong token is refused, and not echoed either
            wrong = httpx.get(
                f"{server.base}/api/v1/findings",
                headers={"Authorization": f"Bearer {TOKEN}x"},
                timeout=10,
            )
            assert wrong.status_code == 401 and TOKEN not in wrong.text
            hook.wait_for(2, accepted=False, timeout=30)  # the first try and a retry
            deadline = time.monotonic() + 15
            while "alerts: sink hook" not in server.output():
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.2)
        finally:
            stop_cleanly(server)
    assert any(HOOK_SECRET in r.path for r in hook.received())  # the secret was used...
    output = server.output()
    assert "no route for /hook/***" in output  # ...and its echo redacted in the log line
    assert HOOK_SECRET not in output
    assert TOKEN not in output
