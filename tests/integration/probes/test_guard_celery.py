"""``probes.guard.effect_once`` in real Celery workers, judged by ``audit scan``.

The app is ``tests/systems/guard_app.py`` (Celery on Redis DB 7, prefork workers, the probes'
Celery adapter, OTLP/HTTP to a real ``audit serve``); emails go to a real SMTP server, the
ledger rows to PostgreSQL. Each run has its own queue, Redis key prefix and tables.

* A task that fails *after* its effect and is retried: with the guard (Redis, PostgreSQL, and
  PostgreSQL in the task's own transaction) the effect happens once and the scan reports
  nothing; with ``confirm`` alone it happens twice and the scan reports ``duplicate_effect``.
* A read-back (``verify``) that finds the receipt refused: a failed confirmation, and the
  scan reports ``failed_effect`` for that job, with or without the guard.
* Two workers racing on one key: one email, one confirmation, one skip; no finding.
* A worker child SIGKILLed inside the guarded block: the redelivered task waits for the
  lease to run out, then sends once; no finding.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import redis

from tests.systems.audit_serve import audit_serve
from tests.systems.probes_apps.runner import _stop
from tests.systems.smtp_server import SmtpServer

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
BROKER = os.environ.get("AUDITOR_GUARD_REDIS_URL", "redis://127.0.0.1:6379/7")
PG_DSN = os.environ.get("AUDITOR_GUARD_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
GOOD = "customer@example.test"
REFUSED = "nobody@rejects.test"  # the SMTP server answers 550 at RCPT TO


@dataclass
class Outcome:
    jobs: list[dict[str, Any]]  # the plan's items with job_id and state
    findings: dict[str, set[str]]  # job id -> finding kinds
    emails: dict[str, int]  # order id -> messages the SMTP server accepted
    ledger: dict[str, int]  # order id -> ledger rows
    effects: list[dict[str, Any]]  # confirm and skip spans: name, key, job, start, end, status
    runs: list[dict[str, Any]]  # job run spans: job, attempt, start, end
    crashed_at: dict[str, float]  # order id -> when its first attempt was killed (s)
    logs: Path

    def job(self, order_id: str, n: int = 0) -> str:
        return [j["job_id"] for j in self.jobs if j["order_id"] == order_id][n]

    def spans(self, name: str, key: str) -> list[dict[str, Any]]:
        return [e for e in self.effects if e["name"] == name and e["key"] == key]


def item(task: str, guard: str, scenario: str, order_id: str, *recipients: str) -> dict:
    return {"task": f"guard_app.{task}", "guard": guard, "scenario": scenario,
            "order_id": order_id, "recipients": list(recipients or (GOOD,))}  # fmt: skip


def scan(db: Path) -> dict[str, set[str]]:
    out = subprocess.run(
        [sys.executable, "-m", "auditor.cli.main", "scan", "--db", str(db), "--format", "json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode in (0, 1), out.stderr
    found: dict[str, set[str]] = defaultdict(set)
    for finding in json.loads(out.stdout)["findings"]:
        for job_id in finding["job_id"].split(","):
            found[job_id].add(finding["kind"])
    return dict(found)


def stored_spans(db: Path) -> tuple[list[dict], list[dict]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        effects = con.execute(
            """SELECT "SpanName", json_extract_string("SpanAttributes", '$."side_effect.key"'),
                      json_extract_string("SpanAttributes", '$."job.id"'),
                      epoch_ns("Timestamp"), epoch_ns("Timestamp") + "Duration", "StatusCode",
                      json_extract_string("SpanAttributes", '$."side_effect.reason"')
               FROM otel_traces WHERE "SpanName" IN ('side_effect.confirm', 'side_effect.skip')
               ORDER BY "Timestamp" """
        ).fetchall()
        runs = con.execute(
            """SELECT json_extract_string("SpanAttributes", '$."job.id"'),
                      json_extract_string("SpanAttributes", '$."job.attempt"'),
                      epoch_ns("Timestamp"), epoch_ns("Timestamp") + "Duration"
               FROM otel_traces WHERE "SpanKind" = 'Consumer' ORDER BY "Timestamp" """
        ).fetchall()
    finally:
        con.close()
    return (
        [{"name": n, "key": k, "job": j, "start": s / 1e9, "end": e / 1e9, "status": st,
          "reason": r} for n, k, j, s, e, st, r in effects],
        [{"job": j, "attempt": a, "start": s / 1e9, "end": e / 1e9} for j, a, s, e in runs],
    )  # fmt: skip


def run_guard_app(
    plan: list[dict], workdir: Path, *, workers: int = 1, lease: float = 10.0
) -> Outcome:
    token = secrets.token_hex(3)
    queue, prefix, table = f"guard-{token}", f"guard-app-{token}:", f"guard_app_{token}"
    for n, entry in enumerate(plan):
        entry["order_id"] = f"{entry['order_id']}-{token}"
        plan[n] = entry
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "plan.json").write_text(json.dumps(plan))
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table}_ledger (order_id text NOT NULL)")
    client = redis.Redis.from_url(BROKER)
    db = workdir / "store.duckdb"
    try:
        with SmtpServer() as smtp, audit_serve(db) as endpoint:
            env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
            env.update({
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "GUARD_APP_BROKER": BROKER, "GUARD_APP_QUEUE": queue,
                "GUARD_APP_SMTP_PORT": str(smtp.port), "GUARD_APP_PREFIX": prefix,
                "GUARD_APP_PG_DSN": PG_DSN, "GUARD_APP_PG_TABLE": table,
                "GUARD_APP_LEASE": str(lease),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
            })  # fmt: skip
            procs = []
            for n in range(workers):
                with open(workdir / f"worker-{n}.log", "ab") as log:
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "celery", "-A", "tests.systems.guard_app",
                         "worker", "--pool", "prefork", "--concurrency", "1", "--queues", queue,
                         "--hostname", f"guard-{token}-{n}@%h", "--loglevel", "INFO",
                         "--without-gossip", "--without-mingle", "--without-heartbeat"],
                        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True,
                    ))  # fmt: skip
            try:
                with open(workdir / "producer.log", "ab") as log:
                    code = subprocess.run(
                        [sys.executable, "-m", "tests.systems.guard_app",
                         str(workdir / "plan.json"), str(workdir / "jobs.json")],
                        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=150,
                    ).returncode  # fmt: skip
                assert code == 0, f"the producer exited {code}; see {workdir}"
                time.sleep(0.5)  # the run spans end after the result is stored
            finally:
                for proc in procs:
                    _stop(proc)
            emails = smtp.accepted()
        jobs = json.loads((workdir / "jobs.json").read_text())
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            ledger: dict[str, int] = dict(
                conn.execute(
                    f"SELECT order_id, count(*) FROM {table}_ledger GROUP BY order_id"
                ).fetchall()
            )
        crashed_at = {
            e["order_id"]: float(client.get(f"{prefix}crashed-at:{e['order_id']}") or 0)
            for e in plan
        }
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}, {table}_ledger")
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()
    effects, runs = stored_spans(db)
    found = scan(db)
    with redis.Redis.from_url(BROKER) as results:
        for job in jobs:
            results.delete(f"celery-task-meta-{job['job_id']}")
    return Outcome(jobs, found, emails, ledger, effects, runs, crashed_at, workdir)


def test_a_task_retried_after_its_effect_performs_it_once_with_the_guard(tmp_path):
    plan = [
        item("send_receipt", "redis", "fail_after", "ORD-redis"),
        item("send_receipt", "postgres", "fail_after", "ORD-postgres"),
        item("write_ledger", "postgres", "fail_after", "ORD-ledger"),
        item("send_receipt", "none", "fail_after", "ORD-unguarded"),
        item("send_receipt", "redis", "verify", "ORD-verify-guarded", GOOD, REFUSED),
        item("send_receipt", "none", "verify", "ORD-verify", GOOD, REFUSED),
    ]
    out = run_guard_app(plan, tmp_path)
    assert [j["state"] for j in out.jobs] == ["SUCCESS"] * len(plan), out.logs
    order = {j["order_id"].rsplit("-", 1)[0]: j["order_id"] for j in out.jobs}
    job = {name: out.job(order_id) for name, order_id in order.items()}

    # the real world: once with the guard, twice without
    assert out.emails.get(order["ORD-redis"]) == 1
    assert out.emails.get(order["ORD-postgres"]) == 1
    assert out.ledger.get(order["ORD-ledger"]) == 1
    assert out.emails.get(order["ORD-unguarded"]) == 2
    # each first attempt confirmed, each retry skipped (the skip names who did it)
    for name, effect_key in order.items():
        if name in ("ORD-redis", "ORD-postgres", "ORD-ledger"):
            (confirmed,) = out.spans("side_effect.confirm", effect_key)
            (skipped,) = out.spans("side_effect.skip", effect_key)
            assert confirmed["job"] == skipped["job"] == job[name]
            assert skipped["reason"] == "already_done"
    assert len(out.spans("side_effect.confirm", order["ORD-unguarded"])) == 2
    # the read-back found the receipt refused for one recipient: a failed confirmation
    for name in ("ORD-verify-guarded", "ORD-verify"):
        (failed,) = out.spans("side_effect.confirm", order[name])
        assert (failed["status"], failed["reason"]) == ("Error", "verification_failed")
        assert out.emails.get(order[name]) == 1

    # what the auditor says: the guarded retries are honest, the unguarded one is a duplicate
    assert out.findings == {
        job["ORD-unguarded"]: {"duplicate_effect"},
        job["ORD-verify-guarded"]: {"failed_effect"},
        job["ORD-verify"]: {"failed_effect"},
    }


def test_two_workers_racing_on_one_key_perform_the_effect_once(tmp_path):
    plan = [
        item("send_receipt_acks_late", guard, "race", f"ORD-{guard}")
        for guard in ("redis", "postgres", "none")
        for _ in range(2)
    ]
    out = run_guard_app(plan, tmp_path, workers=2)
    assert [j["state"] for j in out.jobs] == ["SUCCESS"] * len(plan), out.logs
    for guard in ("redis", "postgres", "none"):
        order_id = next(j["order_id"] for j in out.jobs if j["guard"] == guard)
        first, second = out.job(order_id, 0), out.job(order_id, 1)
        # they did race: each run started before the other one ended
        (run_1,) = [r for r in out.runs if r["job"] == first]
        (run_2,) = [r for r in out.runs if r["job"] == second]
        assert run_1["start"] < run_2["end"] and run_2["start"] < run_1["end"]
        if guard == "none":
            assert out.emails.get(order_id) == 2
            assert out.findings.get(first) == out.findings.get(second) == {"duplicate_effect"}
            continue
        assert out.emails.get(order_id) == 1
        (confirmed,) = out.spans("side_effect.confirm", order_id)
        (skipped,) = out.spans("side_effect.skip", order_id)
        assert {confirmed["job"], skipped["job"]} == {first, second}
        assert skipped["end"] >= confirmed["end"]  # it waited for the other attempt
        assert first not in out.findings and second not in out.findings


def test_a_worker_killed_inside_the_guard_leaves_the_key_to_the_redelivery(tmp_path):
    # Celery notices the dead child and redelivers in about 5 s: a longer lease makes the
    # redelivered task find the key still leased, and wait
    lease = 12.0
    plan = [
        item("send_receipt_acks_late", "redis", "crash", "ORD-redis"),
        item("send_receipt_acks_late", "postgres", "crash", "ORD-postgres"),
    ]
    out = run_guard_app(plan, tmp_path, lease=lease)
    assert [j["state"] for j in out.jobs] == ["SUCCESS"] * len(plan), out.logs
    for entry in out.jobs:
        order_id = entry["order_id"]
        assert out.emails.get(order_id) == 1
        (confirmed,) = out.spans("side_effect.confirm", order_id)
        assert out.spans("side_effect.skip", order_id) == []
        # the redelivery started while the dead attempt's lease held, and claimed the key
        # only once it had run out
        (run,) = [r for r in out.runs if r["job"] == entry["job_id"]]
        crashed_at = out.crashed_at[order_id]
        assert crashed_at > 0
        assert run["start"] - crashed_at < lease
        assert confirmed["start"] - crashed_at >= lease - 0.25
    assert out.findings == {}
