"""Enqueue the planned shop jobs on RQ, as the instrumented web app ``shop-api`` would.

Usage (run by the harness)::

    python -m tests.systems.shop.rq_producer PLAN.json JOBS.json

Same files as ``celery_producer``. Scenarios that rely on a retry (``retry_duplicate``,
``retry_then_ok``, ``crash_first_delivery``) are enqueued with ``Retry(max=1)``; every enqueue
produces a ``publish <queue>`` PRODUCER span.
"""

from __future__ import annotations

import json
import sys

from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry_instrumentation_rq import RQInstrumentor
from redis import Redis
from rq import Queue, Retry

from tests.systems.shop import config, telemetry
from tests.systems.shop.rq_jobs import send_order_confirmation

RETRIED_SCENARIOS = {"retry_duplicate", "retry_then_ok", "crash_first_delivery"}


def main(plan_path: str, jobs_path: str) -> None:
    provider = telemetry.setup_tracing("shop-api")
    RQInstrumentor().instrument()
    RedisInstrumentor().instrument()
    queue = Queue(config.queue_name(), connection=Redis.from_url(config.redis_url()))
    with open(plan_path) as f:
        plan = json.load(f)
    jobs = []
    try:
        for item in plan:
            retry = Retry(max=1) if item["scenario"] in RETRIED_SCENARIOS else None
            job = queue.enqueue(
                send_order_confirmation,
                item["effect_key"],
                item["scenario"],
                item["recipient"],
                retry=retry,
            )
            jobs.append({**item, "job_id": job.id, "job_name": job.func_name})
    finally:
        provider.shutdown()
    with open(jobs_path, "w") as f:
        json.dump(jobs, f, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
