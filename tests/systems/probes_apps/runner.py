"""Run one probes-instrumented app end to end and return its ground truth.

``run_app(app, endpoint, scenarios, workdir, official=False)``:

1. starts a real SMTP server (``tests.systems.smtp_server``; ``rejects.test`` gets 550),
2. starts the app's worker (a subprocess in its own process group),
3. runs the app's producer, which enqueues one job per scenario with a unique order id,
4. waits until every job has ended as many attempts as its scenario implies (markers the job
   writes in Redis, independent of any span), then stops the worker gracefully (SIGTERM), so
   its batch span processor flushes,
5. returns one ``AppJob`` per job: its id, scenario and the finding kinds it must produce.

Spans go to ``endpoint`` (OTLP/HTTP). Logs: ``workdir/logs/<process>.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.systems.probes_apps.behaviour import count
from tests.systems.smtp_server import SmtpServer

REPO_ROOT = Path(__file__).resolve().parents[3]
REDIS = os.environ.get("AUDITOR_REDIS_URL", "redis://127.0.0.1:6379")
#: Redis DB per app (brokers, result backends and the apps' markers).
REDIS_DB = {"celery": 10, "rq": 11, "arq": 12, "dramatiq": 12, "pika": 12, "aio_pika": 12}
#: Attempts each scenario ends (the attempt_ended marker) and starts, in the end.
ENDED = {"ok": 1, "skipped": 1, "swallowed": 1, "retry_duplicate": 2, "crash": 0,
         "crash_first_delivery": 1, "premature": 1, "retry_then_ok": 2, "failed": 1,
         "lost_unconsumed": 0}  # fmt: skip
STARTED = {**ENDED, "crash": 1, "crash_first_delivery": 2}
JOBS_TIMEOUT = 45.0


class AppError(RuntimeError):
    pass


@dataclass(frozen=True)
class AppJob:
    scenario: str
    order_id: str
    job_id: str
    job_name: str
    expected: frozenset[str]


def _env(app: str, endpoint: str, queue: str, smtp: SmtpServer, official: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "PROBES_APP_REDIS_URL": f"{REDIS}/{REDIS_DB[app]}",
            "PROBES_APP_QUEUE": queue,
            "PROBES_APP_SMTP_HOST": smtp.host,
            "PROBES_APP_SMTP_PORT": str(smtp.port),
            "PROBES_OFFICIAL": "1" if official else "0",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _worker_argv(app: str, queue: str) -> list[str]:
    if app == "celery":
        return [sys.executable, "-m", "celery", "-A", "tests.systems.probes_apps.celery_app",
                "worker", "--pool", "prefork", "--concurrency", "1", "--queues", queue,
                "--hostname", f"probes-{queue}@%h", "--loglevel", "INFO", "--without-gossip",
                "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return [sys.executable, "-m", f"tests.systems.probes_apps.{app}_app"]


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def run_app(
    app: str,
    endpoint: str,
    scenarios: dict[str, set[str]],
    workdir: Path,
    *,
    official: bool = False,
) -> list[AppJob]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    token = secrets.token_hex(3)
    queue = f"probes-{app}-{token}"
    plan = []
    for n, scenario in enumerate(scenarios, start=1):
        domain = "rejects.test" if scenario == "swallowed" else "example.test"
        plan.append([scenario, f"ORD-{token}-{n}", f"customer-{n}@{domain}"])
    (workdir / "plan.json").write_text(json.dumps(plan))
    client = redis.Redis.from_url(f"{REDIS}/{REDIS_DB[app]}")

    with SmtpServer() as smtp:
        env = _env(app, endpoint, queue, smtp, official)
        with open(workdir / "logs" / "worker.log", "ab") as log:
            worker = subprocess.Popen(
                _worker_argv(app, queue), cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            with open(workdir / "logs" / "producer.log", "ab") as log:
                code = subprocess.run(
                    [sys.executable, "-m", "tests.systems.probes_apps.produce", app,
                     str(workdir / "plan.json"), str(workdir / "jobs.json")],
                    cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=60,
                ).returncode  # fmt: skip
            if code != 0:
                raise AppError(f"{app} producer exited {code}; see {workdir}/logs/producer.log")
            jobs = json.loads((workdir / "jobs.json").read_text())

            def finished() -> bool:
                return all(
                    count(client, j["order_id"], "attempt_ended") >= ENDED[j["scenario"]]
                    and count(client, j["order_id"], "attempt_started") >= STARTED[j["scenario"]]
                    for j in jobs
                )

            deadline = time.monotonic() + JOBS_TIMEOUT
            while not finished():
                if worker.poll() is not None:
                    raise AppError(f"{app} worker exited {worker.returncode}; see {workdir}/logs")
                if time.monotonic() > deadline:
                    raise AppError(
                        f"{app} jobs did not finish in {JOBS_TIMEOUT:.0f}s; see {workdir}/logs"
                    )
                time.sleep(0.1)
            time.sleep(0.5)  # the last run spans end after the job's own marker
            # the real effect, for tests that check it: emails accepted per order id
            (workdir / "accepted.json").write_text(json.dumps(smtp.accepted()))
        finally:
            _stop(worker)
            client.close()
    return [
        AppJob(
            j["scenario"],
            j["order_id"],
            j["job_id"],
            j["job_name"],
            frozenset(scenarios[j["scenario"]]),
        )
        for j in jobs
    ]
