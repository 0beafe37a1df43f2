"""The probes on real workers: findings from ``audit scan`` equal each scenario's ground truth.

Each case runs one app of ``tests/systems/probes_apps`` — instrumented only through the probes
API and its adapter, plus the framework's own OpenTelemetry instrumentation where one exists
(``official``; for Dramatiq the third-party opentelemetry-instrumentor-dramatiq) — on a real
broker, with a real SMTP server, exporting OTLP/HTTP to a real ``audit serve``. Then
``audit scan --db`` runs the built-in profiles and packs (the jobs declare
``expects("email.sent")``, so no rule is written for them), and the finding kinds per job id
must be exactly the scenario's (and the job run spans must be the framework instrumentation's
when it is installed, the adapter's otherwise):

==================== ===================================== =================================
scenario             what the job does                     finding
==================== ===================================== =================================
ok                   sends, confirms                       none
skipped              says done without sending             unconfirmed_done
swallowed            SMTP 550 inside confirm, caught       failed_effect
retry_duplicate      sends, then fails; the retry resends  duplicate_effect
crash (Celery)       SIGKILLed mid-send, early ack         lost_job (the job is gone)
crash_first_delivery SIGKILLed once, acks_late             none (redelivered, then honest)
crash (RQ)           SIGKILLed mid-send                    none (RQ records the failure)
==================== ===================================== =================================

Needs Redis on 6379 (DBs 10-12) and RabbitMQ on 5672 (guest/guest) for Dramatiq.
"""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import aiosmtpd  # noqa: F401 - the integration test needs it installed
import pytest

from tests.systems.audit_serve import audit_serve
from tests.systems.probes_apps.behaviour import SCENARIOS
from tests.systems.probes_apps.runner import REPO_ROOT, run_app

pytestmark = pytest.mark.integration


def _up(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


CASES = [
    pytest.param("celery", False, {"crash": {"lost_job"}, "crash_first_delivery": set()},
                 id="celery"),
    pytest.param("celery", True, {"crash": {"lost_job"}, "crash_first_delivery": set()},
                 id="celery+official-instrumentation"),
    pytest.param("rq", False, {"crash": set()}, id="rq"),
    pytest.param("rq", True, {"crash": set()}, id="rq+community-instrumentation"),
    pytest.param("dramatiq", False, {}, id="dramatiq-rabbitmq"),
    pytest.param("dramatiq", True, {}, id="dramatiq-rabbitmq+third-party-instrumentor"),
    pytest.param("arq", False, {}, id="arq"),
]  # fmt: skip

_MODULES = {"celery": "celery", "rq": "rq", "dramatiq": "dramatiq", "arq": "arq"}
_OFFICIAL = {
    "celery": "opentelemetry.instrumentation.celery",
    "rq": "opentelemetry_instrumentation_rq",
    "dramatiq": "opentelemetry_instrumentor_dramatiq",  # third party: contrib has none
}
#: Who makes the job run spans when that instrumentation is installed: the adapter then only
#: annotates them (without it, the adapter's own scope ``probes.adapters.<app>`` makes them).
_OFFICIAL_RUN_SCOPE = {
    "celery": "opentelemetry.instrumentation.celery",
    "rq": "opentelemetry_instrumentation_rq.instrumentor",
    "dramatiq": "opentelemetry_instrumentor_dramatiq.src",
}


def scan(db: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "auditor.cli.main", "scan", "--db", str(db), "--format", "json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def run_span_scopes(db: Path) -> set[str]:
    """Instrumentation scopes of the stored job run spans (CONSUMER spans carrying ``job.id``)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            'SELECT DISTINCT "ScopeName" FROM otel_traces WHERE "SpanKind" = \'Consumer\' '
            'AND json_extract_string("SpanAttributes", \'$."job.id"\') IS NOT NULL'
        ).fetchall()
    finally:
        con.close()
    return {scope for (scope,) in rows}


@pytest.mark.parametrize(("app", "official", "extra"), CASES)
def test_findings_equal_the_ground_truth(app, official, extra, tmp_path):
    importlib.import_module(_MODULES[app])
    if official:
        importlib.import_module(_OFFICIAL[app])
    if not _up(6379):
        pytest.fail("Redis is not running on 6379 (scripts/services starts it)")
    if app == "dramatiq" and not _up(5672):
        pytest.fail("RabbitMQ is not running on 5672 (scripts/services starts it)")

    scenarios = {**SCENARIOS, **extra}
    db = tmp_path / "store.duckdb"
    with audit_serve(db) as endpoint:
        jobs = run_app(app, endpoint, scenarios, tmp_path / "run", official=official)

    report = scan(db)
    found: dict[str, set[str]] = defaultdict(set)
    for finding in report["findings"]:
        found[finding["job_id"]].add(finding["kind"])
    expected = {job.job_id: set(job.expected) for job in jobs if job.expected}
    by_scenario = {job.job_id: job.scenario for job in jobs}
    assert {by_scenario.get(k, k): v for k, v in found.items()} == {
        by_scenario[k]: v for k, v in expected.items()
    }
    assert dict(found) == expected
    # with the framework's instrumentation, its spans are the job runs: no second run span
    assert run_span_scopes(db) == {
        _OFFICIAL_RUN_SCOPE[app] if official else f"probes.adapters.{app}"
    }
