"""One RQ worker process for the shop, traced with the community RQ instrumentation.

Usage (run by the harness, once per worker)::

    python -m tests.systems.shop.rq_worker WORKER_NAME

The worker process sets up the SDK and instruments RQ (``opentelemetry-instrumentation-rq``)
and Redis (``opentelemetry-instrumentation-redis``) before it starts. RQ forks a work-horse per
job (after flushing the exporter: ``rq_worker_class``); the horse inherits the provider (the SDK re-creates the batch thread after fork) and the
RQ instrumentor force-flushes at the end of each job. SIGTERM is RQ's warm shutdown: the worker
finishes its current job, leaves ``work()``, and the provider is shut down (flushed).
"""

from __future__ import annotations

import sys

from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry_instrumentation_rq import RQInstrumentor
from redis import Redis
from rq import Queue

from tests.systems.rq_worker_class import FlushingWorker
from tests.systems.shop import config, telemetry

SERVICE_NAME = "shop-rq-worker"


def main(worker_name: str) -> None:
    provider = telemetry.setup_tracing(SERVICE_NAME)
    RQInstrumentor().instrument()
    RedisInstrumentor().instrument()
    connection = Redis.from_url(config.redis_url())
    worker = FlushingWorker(
        [Queue(config.queue_name(), connection=connection)], connection=connection, name=worker_name
    )
    worker.flush = provider.force_flush
    try:
        worker.work(logging_level="INFO")
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
