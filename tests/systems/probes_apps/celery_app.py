"""Celery app instrumented with probes (and, with PROBES_OFFICIAL=1, the official instrumentation).

Worker: ``celery -A tests.systems.probes_apps.celery_app worker -P prefork -c 1 -Q $QUEUE``.
Tracing is set up per pool child in ``worker_process_init`` (as the real captures show), as the docs say.
"""

from __future__ import annotations

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

import probes
from probes.adapters.celery import CeleryProbes
from tests.systems.probes_apps import behaviour, config, telemetry

app = Celery("probes_app", broker=config.redis_url(), backend=config.redis_url())
app.conf.update(
    task_default_queue=config.queue(),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    if config.official():
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument(tracer_provider=_provider)
    CeleryProbes().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


@worker_process_init.connect(weak=False)
def _init(**_kwargs) -> None:
    instrument("probes-celery-worker")


@worker_process_shutdown.connect(weak=False)
def _shutdown(**_kwargs) -> None:
    shutdown()


def _run(task: Task, scenario: str, order_id: str, recipient: str) -> dict:
    try:
        return behaviour.run(scenario, order_id, recipient)
    except behaviour.TransientError as exc:
        raise task.retry(exc=exc, countdown=config.RETRY_DELAY, max_retries=1) from exc


@app.task(bind=True, name="probes_app.send_confirmation")
@probes.expects("email.sent")
def send_confirmation(self: Task, scenario: str, order_id: str, recipient: str) -> dict:
    return _run(self, scenario, order_id, recipient)


@app.task(
    bind=True, name="probes_app.send_confirmation_acks_late", acks_late=True,
    reject_on_worker_lost=True,
)  # fmt: skip
@probes.expects("email.sent")
def send_confirmation_acks_late(self: Task, scenario: str, order_id: str, recipient: str) -> dict:
    return _run(self, scenario, order_id, recipient)


def enqueue(scenario: str, order_id: str, recipient: str) -> tuple[str, str]:
    """Producer side (called by ``produce``): returns (job id, job name)."""
    task = send_confirmation_acks_late if scenario == "crash_first_delivery" else send_confirmation
    result = task.apply_async(args=(scenario, order_id, recipient))
    return result.id, task.name
