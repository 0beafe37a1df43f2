"""``audit probe sql|http`` against the machine's real PostgreSQL and a real local HTTP server,
exporting to a real ``audit serve``: each row is confirmed once, also across restarts.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); the test creates and drops
its own database.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from tests.integration.probes.conftest import audit, confirmations
from tests.systems.audit_serve import audit_serve

pytestmark = pytest.mark.integration

PG = "postgresql://postgres@127.0.0.1:5432"


def _pg_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


@pytest.fixture
def database() -> Iterator[str]:
    if not _pg_up():
        pytest.fail("PostgreSQL is not running on 5432 (scripts/services starts it)")
    name = f"auditor_probe_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{PG}/{name}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE sent_emails (notification_id text, job_id text, sent_at timestamptz,"
            " status text)"
        )
        conn.execute(
            "INSERT INTO sent_emails VALUES"
            " ('N-1', 'job-1', '2026-01-02T03:04:05Z', 'sent'),"
            " ('N-2', 'job-2', '2026-01-02T03:04:06Z', 'sent'),"
            " ('N-3', 'job-3', '2026-01-02T03:04:07Z', 'bounced')"
        )
    try:
        yield dsn
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


QUERY = "SELECT notification_id AS key, job_id, sent_at, status FROM sent_emails ORDER BY 1"


def probe_sql(dsn: str, endpoint: str, state: Path, *extra: str):
    return audit(
        "probe", "sql", "--dsn", dsn, "--query", QUERY, "--effect", "email.sent",
        "--time-column", "sent_at", "--status-column", "status", "--system", "celery",
        "--endpoint", endpoint, "--state", str(state), "--once", *extra,
    )  # fmt: skip


def test_sql_rows_become_confirmations_once_across_restarts(database, tmp_path):
    db, state = tmp_path / "store.duckdb", tmp_path / "probe-state.json"
    with audit_serve(db) as endpoint:
        first = probe_sql(database, endpoint, state)
        assert first.code == 0, first.stderr
        assert "3 new confirmation(s) of email.sent exported" in first.stderr
        assert first.stdout == ""

        again = probe_sql(database, endpoint, state)  # a restart: a new process, same state
        assert again.code == 0, again.stderr
        assert "0 new confirmation(s)" in again.stderr and "3 already confirmed" in again.stderr

        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("INSERT INTO sent_emails VALUES ('N-4', 'job-4', now(), 'sent')")
        third = probe_sql(database, endpoint, state)
        assert "1 new confirmation(s)" in third.stderr

        # Even with the state lost, a re-sent confirmation is the same span: stored once.
        state.unlink()
        lost = probe_sql(database, endpoint, state)
        assert "4 new confirmation(s)" in lost.stderr

    spans = confirmations(db)
    assert len(spans) == 4
    by_key = {s["attributes"]["side_effect.key"]: s for s in spans}
    assert set(by_key) == {"N-1", "N-2", "N-3", "N-4"}
    one = by_key["N-1"]
    assert one["attributes"]["side_effect.name"] == "email.sent"
    assert one["attributes"]["job.id"] == "job-1"
    assert one["attributes"]["job.system"] == "celery"
    assert one["attributes"]["side_effect.status"] == "ok"
    assert str(one["start"]).startswith("2026-01-02 03:04:05")
    assert by_key["N-3"]["status"] == "Error"
    assert by_key["N-3"]["attributes"]["side_effect.status"] == "error"
    saved = json.loads(state.read_text())
    assert saved["version"] == 1 and len(saved["confirmed"]) == 4


def test_a_confirmation_that_could_not_be_exported_is_not_remembered(database, tmp_path):
    state = tmp_path / "state.json"
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = probe_sql(database, dead, state, "--timeout", "2")
    assert result.code == 3
    assert "audit: error: could not export 3 confirmation(s)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()


@pytest.mark.parametrize(
    ("dsn_suffix", "query", "code", "message"),
    [
        ("", "SELECT * FROM no_such_table", 2, 'the --query failed: relation "no_such_table"'),
        ("", "SELECT 1 AS one", 2, "neither the key column 'key' nor the job id column"),
        ("_nope", QUERY, 3, "cannot connect to PostgreSQL"),
    ],
)
def test_sql_errors_are_one_line_without_traceback(
    database, tmp_path, dsn_suffix, query, code, message
):
    result = audit(
        "probe", "sql", "--dsn", database + dsn_suffix, "--query", query, "--effect", "email.sent",
        "--endpoint", "http://127.0.0.1:9", "--state", str(tmp_path / "s.json"), "--once",
    )  # fmt: skip
    assert result.code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_password_in_the_dsn_is_never_printed(tmp_path):
    result = audit(
        "probe", "sql", "--dsn", "postgresql://app:s3cret@127.0.0.1:1/shop", "--query", QUERY,
        "--effect", "email.sent", "--state", str(tmp_path / "s.json"), "--once", "--timeout", "1",
    )  # fmt: skip
    assert result.code == 3
    assert "s3cret" not in result.stderr and "app:***@" in result.stderr


# ----------------------------------------------------------------------------- HTTP


class _Status(BaseHTTPRequestHandler):
    document: object = {}
    content_type = "application/json"

    def do_GET(self) -> None:
        body = (
            json.dumps(self.document) if self.content_type == "application/json" else "<html>"
        ).encode()
        self.send_response(200 if self.path.startswith("/captures") else 404)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def status_server(document: object, content_type: str = "application/json") -> Iterator[str]:
    handler = type("Handler", (_Status,), {"document": document, "content_type": content_type})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def probe_http(url: str, endpoint: str, state: Path, *extra: str):
    return audit(
        "probe", "http", "--url", url, "--items", "data.captures", "--effect", "payment.captured",
        "--key-column", "payment_id", "--job-id-column", "job", "--time-column", "captured_at",
        "--endpoint", endpoint, "--state", str(state), "--once", *extra,
    )  # fmt: skip


def test_http_items_become_confirmations_once_across_restarts(tmp_path):
    captures = [
        {"payment_id": "PAY-1", "job": "j-1", "captured_at": 1767323045},
        {"payment_id": "PAY-2", "job": "j-2", "captured_at": "2026-01-02T03:04:06Z"},
        {"payment_id": "PAY-2", "job": "j-2", "captured_at": "2026-01-02T03:04:06Z"},
    ]
    db, state = tmp_path / "store.duckdb", tmp_path / "state.json"
    with status_server({"data": {"captures": captures}}) as base, audit_serve(db) as endpoint:
        first = probe_http(f"{base}/captures", endpoint, state)
        assert first.code == 0, first.stderr
        assert "2 new confirmation(s) of payment.captured exported" in first.stderr
        again = probe_http(f"{base}/captures", endpoint, state)
        assert "0 new confirmation(s)" in again.stderr
    spans = confirmations(db)
    assert sorted(s["attributes"]["side_effect.key"] for s in spans) == ["PAY-1", "PAY-2"]
    assert {s["attributes"]["job.id"] for s in spans} == {"j-1", "j-2"}


@pytest.mark.parametrize(
    ("path", "document", "content_type", "code", "message"),
    [
        ("/missing", {}, "application/json", 3, "answered 404"),
        ("/captures", {}, "text/html", 3, "did not answer JSON"),
        (
            "/captures",
            {"data": {"captures": {"a": 1}}},
            "application/json",
            2,
            "is not a JSON list",
        ),
        ("/captures", {"other": []}, "application/json", 2, "has no 'data.captures'"),
    ],
)
def test_http_errors_are_one_line_without_traceback(
    tmp_path, path, document, content_type, code, message
):
    with status_server(document, content_type) as base:
        result = probe_http(f"{base}{path}", "http://127.0.0.1:9", tmp_path / "s.json")
    assert result.code == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_every_must_be_a_duration(tmp_path):
    result = audit(
        "probe", "http", "--url", "http://127.0.0.1:9/x", "--effect", "e", "--every", "soon",
        "--state", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert result.code == 2
    assert "--every" in result.stderr
