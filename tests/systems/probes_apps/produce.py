"""Enqueue the planned jobs of one app: ``python -m tests.systems.probes_apps.produce APP PLAN JOBS``.

PLAN is a JSON list of ``[scenario, order_id, recipient]``; JOBS receives
``[{scenario, order_id, job_id, job_name}]``. The producer process is instrumented the same way
as the worker (probes adapter, plus the official instrumentation with PROBES_OFFICIAL=1), so
the enqueue spans are there for the lost-job check.
"""

from __future__ import annotations

import importlib
import json
import sys


def main(app_name: str, plan_path: str, jobs_path: str) -> None:
    app = importlib.import_module(f"tests.systems.probes_apps.{app_name}_app")
    with open(plan_path) as f:
        plan = [tuple(item) for item in json.load(f)]
    app.instrument("probes-shop-api")
    try:
        if hasattr(app, "enqueue_all"):
            ids = app.enqueue_all(plan)
        else:
            ids = [app.enqueue(*item) for item in plan]
    finally:
        app.shutdown()
    jobs = [
        {"scenario": s, "order_id": o, "job_id": str(job_id), "job_name": name}
        for (s, o, _), (job_id, name) in zip(plan, ids, strict=True)
    ]
    with open(jobs_path, "w") as f:
        json.dump(jobs, f, indent=2)


if __name__ == "__main__":
    main(*sys.argv[1:])
