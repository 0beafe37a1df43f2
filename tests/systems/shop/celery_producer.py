"""Enqueue the planned shop jobs on Celery, as the instrumented web app ``shop-api`` would.

Usage (run by the harness)::

    python -m tests.systems.shop.celery_producer PLAN.json JOBS.json

PLAN.json is a list of ``{"scenario", "effect_key", "recipient"}``; JOBS.json receives the same
list with the framework's ``job_id`` and ``job_name`` added. Each ``apply_async`` produces an
``apply_async/<task>`` PRODUCER span; the provider is shut down (flushed) before exiting.
"""

from __future__ import annotations

import json
import sys

from opentelemetry.instrumentation.celery import CeleryInstrumentor

from tests.systems.shop import telemetry


def main(plan_path: str, jobs_path: str) -> None:
    provider = telemetry.setup_tracing("shop-api")
    CeleryInstrumentor().instrument()
    from tests.systems.shop.celery_app import TASK_FOR_SCENARIO, send_order_confirmation

    with open(plan_path) as f:
        plan = json.load(f)
    jobs = []
    try:
        for item in plan:
            task = TASK_FOR_SCENARIO.get(item["scenario"], send_order_confirmation)
            result = task.apply_async(
                args=(item["effect_key"], item["scenario"], item["recipient"])
            )
            jobs.append({**item, "job_id": result.id, "job_name": task.name})
    finally:
        provider.shutdown()
    with open(jobs_path, "w") as f:
        json.dump(jobs, f, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
