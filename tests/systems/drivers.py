"""How to run each job system: start its workers, run its producer, read its job states.

Each driver takes the ``RunContext`` of one run and returns ``(jobs, final_states)``: the
producer's job list (plan + framework ``job_id`` / ``job_name``) and ``{job_id: "done" |
"failed"}`` read from the system's own state. Before returning it has waited for the expected
side effects and stopped its workers gracefully, so every span the workers ended is flushed.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.systems.harness import BULLMQ_DIR, RunContext, ensure_node_modules

PY = sys.executable

Jobs = list[dict[str, Any]]
States = dict[str, str]


def _final(poll: dict[str, str | None]) -> States | None:
    """``poll`` maps job id -> "done" / "failed" / None (not final yet)."""
    return None if None in poll.values() else poll  # type: ignore[return-value]


def run_celery(ctx: RunContext) -> tuple[Jobs, States]:
    """Celery 5 on Redis, prefork pool with 2 children, one worker node."""
    from celery import Celery

    worker = ctx.spawn(
        "celery-worker",
        [PY, "-m", "celery", "-A", "tests.systems.shop.celery_app", "worker",
         "--pool", "prefork", "--concurrency", "2", "--queues", ctx.queue,
         "--hostname", f"shop-{ctx.queue}@%h", "-O", "fair", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
    )  # fmt: skip
    ctx.run(
        "celery-producer",
        [PY, "-m", "tests.systems.shop.celery_producer", "plan.json", "jobs.json"],
        cwd=ctx.workdir,
    )
    jobs = ctx.read_jobs()

    # The result backend is Celery's record of each task's final state (an uninstrumented app
    # in this process, only to read it).
    backend = Celery("auditor-harness", backend=ctx.redis_url, set_as_current=False)
    verdict = {"SUCCESS": "done", "FAILURE": "failed"}

    def poll() -> States | None:
        return _final(
            {j["job_id"]: verdict.get(backend.AsyncResult(j["job_id"]).state) for j in jobs}
        )

    try:
        states = ctx.wait_for("the Celery tasks to finish", poll)
        ctx.wait_for_effects()
    finally:
        backend.close()
    ctx.stop(worker)
    return jobs, states


def run_rq(ctx: RunContext) -> tuple[Jobs, States]:
    """RQ 2.12 with two forking workers."""
    from rq.job import Job, JobStatus

    workers = [
        ctx.spawn(f"rq-worker-{n}", [PY, "-m", "tests.systems.shop.rq_worker", f"rqworker-{n}"])
        for n in (1, 2)
    ]
    ctx.run(
        "rq-producer",
        [PY, "-m", "tests.systems.shop.rq_producer", "plan.json", "jobs.json"],
        cwd=ctx.workdir,
    )
    jobs = ctx.read_jobs()
    verdict = {JobStatus.FINISHED: "done", JobStatus.FAILED: "failed"}

    def poll() -> States | None:
        return _final(
            {
                j["job_id"]: verdict.get(Job.fetch(j["job_id"], connection=ctx.redis).get_status())
                for j in jobs
            }
        )

    states = ctx.wait_for("the RQ jobs to finish", poll)
    ctx.wait_for_effects()
    for worker in workers:
        ctx.stop(worker)
    return jobs, states


def run_bullmq(ctx: RunContext) -> tuple[Jobs, States]:
    """BullMQ 6 (Node 20): a supervisor keeping 2 worker processes (concurrency 1) alive."""
    ensure_node_modules()
    supervisor = ctx.spawn("bullmq-supervisor", ["node", "supervisor.js"], cwd=BULLMQ_DIR)
    ctx.run(
        "bullmq-producer",
        ["node", str(BULLMQ_DIR / "producer.js"), "plan.json", "jobs.json"],
        cwd=ctx.workdir,
    )
    jobs = ctx.read_jobs()

    # BullMQ keeps finished jobs in the sorted sets bull:<queue>:completed / :failed.
    completed, failed = (f"bull:{ctx.queue}:completed", f"bull:{ctx.queue}:failed")

    def state(job_id: str) -> str | None:
        if ctx.redis.zscore(completed, job_id) is not None:
            return "done"
        if ctx.redis.zscore(failed, job_id) is not None:
            return "failed"
        return None

    def poll() -> States | None:
        return _final({j["job_id"]: state(j["job_id"]) for j in jobs})

    states = ctx.wait_for("the BullMQ jobs to finish", poll)
    ctx.wait_for_effects()
    ctx.stop(supervisor)
    return jobs, states


DRIVERS = {"celery": run_celery, "rq": run_rq, "bullmq": run_bullmq}
