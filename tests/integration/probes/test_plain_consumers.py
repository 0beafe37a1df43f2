"""Hand-written RabbitMQ consumers (pika, aio-pika) on the real broker: ``audit scan`` finds
exactly the jobs that lied, each with the kind of its lie, with the built-in profiles and
packs only.

Each case runs ``tests/systems/probes_apps/{pika,aio_pika}_app.py`` — the contrib
OpenTelemetry instrumentation of the client (opentelemetry-instrumentation-pika 0.66b1,
-aio-pika 0.66b1) plus probes as docs/messaging.md's recipe says — against RabbitMQ on 5672,
a real SMTP server and a real ``audit serve``. Two more pika cases use the least a consumer
can do (``expects``, ``confirm``, ``mark_done`` before the ack, no ``job_run``): with 0.66b1,
and with the older 0.48b0 (its old semconv: the type property in ``messaging.destination``,
one publish span instead of two), which ``scripts/test`` installs beside the suite in
``<venv>/extra/pika-instrumentation-0.48b0`` (its own code, on the suite's 0.66b2
opentelemetry-instrumentation; the test puts it first on the workers' path). Ground truth is the real effect: the emails the
SMTP server accepted per order must be what each scenario does, before the findings are
compared.

==================== ============================================= ================
scenario             what the job does                             finding
==================== ============================================= ================
ok                   sends, confirms, ack                          none
skipped              marked done without sending                   unconfirmed_done
swallowed            SMTP 550 caught, marked done                  failed_effect
premature            marked done, then sends                       premature_done
retry_duplicate      sends, nack+requeue; the redelivery resends   duplicate_effect
retry_then_ok        nack+requeue before sending; then honest      none
failed               nack without requeue (dropped)                none (visible)
crash_first_delivery SIGKILLed once (manual ack: redelivered)      none
crash                SIGKILLed, auto-ack consumer: message gone    lost_job
lost_unconsumed      published to a queue nobody consumes          lost_job
==================== ============================================= ================
"""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.systems.audit_serve import audit_serve
from tests.systems.probes_apps.runner import REPO_ROOT, run_app

pytestmark = pytest.mark.integration

SCENARIOS: dict[str, set[str]] = {
    "ok": set(),
    "skipped": {"unconfirmed_done"},
    "swallowed": {"failed_effect"},
    "premature": {"premature_done"},
    "retry_duplicate": {"duplicate_effect"},
    "retry_then_ok": set(),
    "failed": set(),
    "crash_first_delivery": set(),
    "crash": {"lost_job"},
    "lost_unconsumed": {"lost_job"},
}
#: Emails the SMTP server must have accepted per scenario (the real effect).
EMAILS = {"ok": 1, "skipped": 0, "swallowed": 0, "premature": 1, "retry_duplicate": 2,
          "retry_then_ok": 1, "failed": 0, "crash_first_delivery": 1, "crash": 0,
          "lost_unconsumed": 0}  # fmt: skip

INSTRUMENTATION = {"pika": "opentelemetry.instrumentation.pika",
                   "aio_pika": "opentelemetry.instrumentation.aio_pika"}  # fmt: skip
#: The instrumentation scope of each instrumentation's spans.
SCOPE = {"pika": "opentelemetry.instrumentation.pika.pika_instrumentor",
         "aio_pika": "opentelemetry.instrumentation.aio_pika"}  # fmt: skip


def _up(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def scan(db) -> dict:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-m", "auditor.cli.main", "scan", "--db", str(db), "--format", "json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    return json.loads(out.stdout)


def consumer_spans(db) -> dict[tuple[str, str], int]:  # type: ignore[no-untyped-def]
    """CONSUMER spans by (scope, scope version)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            'SELECT "ScopeName", "ScopeVersion", count(*) FROM otel_traces '
            "WHERE \"SpanKind\" = 'Consumer' GROUP BY 1, 2"
        ).fetchall()
    finally:
        con.close()
    return {(scope, version): n for scope, version, n in rows}


OLD_PIKA = Path(sys.prefix) / "extra" / "pika-instrumentation-0.48b0"
CASES = [
    pytest.param("pika", True, None, id="pika-0.66b1+job_run"),
    pytest.param("aio_pika", True, None, id="aio-pika-0.66b1+job_run"),
    pytest.param("pika", False, None, id="pika-0.66b1-without-job_run"),
    pytest.param("pika", False, OLD_PIKA, id="pika-0.48b0-without-job_run"),
]


@pytest.mark.parametrize(("app", "job_run", "old_instrumentation"), CASES)
def test_findings_are_exactly_the_lies_of_a_plain_consumer(
    app, job_run, old_instrumentation, tmp_path, monkeypatch
):
    importlib.import_module(INSTRUMENTATION[app])
    version = "0.66b1"
    if old_instrumentation is not None:
        assert (old_instrumentation / "opentelemetry" / "instrumentation" / "pika").is_dir(), (
            f"{old_instrumentation} is missing (scripts/test installs it)"
        )
        monkeypatch.setenv("PYTHONPATH", str(old_instrumentation))
        version = "0.48b0"
    monkeypatch.setenv("PROBES_PLAIN_JOB_RUN", "1" if job_run else "0")
    if not _up(5672):
        pytest.fail("RabbitMQ is not running on 5672 (scripts/services starts it)")
    if not _up(6379):
        pytest.fail("Redis is not running on 6379 (scripts/services starts it)")

    db = tmp_path / "store.duckdb"
    with audit_serve(db) as endpoint:
        jobs = run_app(app, endpoint, SCENARIOS, tmp_path / "run")

    # the real effects are what the scenarios say
    accepted = json.loads((tmp_path / "run" / "accepted.json").read_text())
    assert {j.scenario: accepted.get(j.order_id, 0) for j in jobs} == EMAILS

    report = scan(db)
    found: dict[str, set[str]] = defaultdict(set)
    for finding in report["findings"]:
        found[finding["job_id"]].add(finding["kind"])
    scenario_of = {j.job_id: j.scenario for j in jobs}
    expected = {j.job_id: set(j.expected) for j in jobs if j.expected}
    assert {scenario_of.get(k, k): v for k, v in found.items()} == {
        scenario_of[k]: v for k, v in expected.items()
    }
    # precision = recall = 1: every finding names one job that lied that way, and no lie is
    # reported twice (pika's nested publish spans of one message are one enqueue)
    lies = {(job_id, kind) for job_id, kinds in expected.items() for kind in kinds}
    reported = [(f["job_id"], f["kind"]) for f in report["findings"]]
    assert set(reported) == lies
    assert Counter(reported).most_common(1)[0][1] == 1
    assert len({f["fingerprint"] for f in report["findings"]}) == len(reported)
    # the instrumentation's receive spans are the job runs (job_run annotated them rather
    # than starting a second run span); one per delivery that ended (crashes export nothing)
    ended = {"retry_duplicate": 2, "retry_then_ok": 2, "crash_first_delivery": 1, "crash": 0,
             "lost_unconsumed": 0}  # fmt: skip
    assert consumer_spans(db) == {(SCOPE[app], version): sum(ended.get(s, 1) for s in SCENARIOS)}
