"""Real job systems (Celery, RQ, BullMQ) running an instrumented "shop" with lying jobs.

``run_system(system, endpoint, scenarios, workdir)`` runs one system end to end and returns a
``JobRecord`` per job; the spans go over OTLP/HTTP to ``endpoint``. The ground truth (which
finding each scenario must produce, per system) is data in ``scenarios.py``. See ``harness.py``
for the run itself, ``drivers.py`` for the per-system parts, ``shop/`` for the Python job code
and ``bullmq/`` for the Node one. ``scripts/capture-traces`` records runs into
``tests/data/captures/``.

Needs Redis on 127.0.0.1:6379 (DBs 13-15 are flushed), Node 20 + npm for BullMQ, and the
Python packages of the ``test`` extra (celery, rq==2.12.0, the OTel instrumentations, aiosmtpd).
"""

from tests.systems.harness import HarnessError, JobRecord, plan_jobs, run_system
from tests.systems.scenarios import SCENARIOS, SYSTEMS

__all__ = ["SCENARIOS", "SYSTEMS", "HarnessError", "JobRecord", "plan_jobs", "run_system"]
