"""RQ app instrumented with probes (and, with PROBES_OFFICIAL=1, opentelemetry-instrumentation-rq).

Worker: ``python -m tests.systems.probes_apps.rq_app`` (one forking ``Worker``).
"""

from __future__ import annotations

import os
import sys

from redis import Redis
from rq import Queue, Retry, get_current_job

import probes
from probes.adapters.rq import RQProbes
from tests.systems.probes_apps import behaviour, config, telemetry
from tests.systems.rq_worker_class import FlushingWorker

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    if config.official():
        from opentelemetry_instrumentation_rq import RQInstrumentor

        RQInstrumentor().instrument()
    RQProbes().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


@probes.expects("email.sent")
def send_confirmation(scenario: str, order_id: str, recipient: str) -> dict:
    try:
        return behaviour.run(scenario, order_id, recipient)
    except behaviour.TransientError:
        raise  # RQ retries it: the job was enqueued with Retry(max=1)


def _queue() -> Queue:
    return Queue(config.queue(), connection=Redis.from_url(config.redis_url()))


def enqueue(scenario: str, order_id: str, recipient: str) -> tuple[str, str]:
    retry = Retry(max=1) if scenario in ("retry_duplicate", "crash_first_delivery") else None
    job = _queue().enqueue(send_confirmation, scenario, order_id, recipient, retry=retry)
    return job.id, job.func_name


def main() -> None:
    instrument("probes-rq-worker")
    assert get_current_job() is None
    queue = _queue()
    worker = FlushingWorker([queue], connection=queue.connection, name=f"probes-rq-{os.getpid()}")
    if _provider is not None:
        worker.flush = _provider.force_flush
    try:
        worker.work(logging_level="INFO")
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
