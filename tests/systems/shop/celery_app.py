"""The shop's Celery application: two tasks on Redis, instrumented per pool child.

Start a worker with (the harness does this)::

    python -m celery -A tests.systems.shop.celery_app worker -P prefork -c 2 -Q $SHOP_QUEUE

Tracing follows the setup that works with the prefork pool (as the real captures show): each pool child
creates its own SDK provider and calls ``CeleryInstrumentor().instrument()`` in
``worker_process_init``, and shuts the provider down (flushing its batch) in
``worker_process_shutdown``. The pool's parent process is not instrumented.

Tasks:

* ``shop.send_order_confirmation`` - Celery defaults: the message is acknowledged before the
  task runs (early ack), so a worker that dies mid-task loses the job.
* ``shop.send_order_confirmation_acks_late`` - ``acks_late=True, reject_on_worker_lost=True``:
  a worker that dies mid-task gets the message requeued and redelivered.

A ``TransientError`` from the job becomes ``self.retry(countdown=0.5, max_retries=1)``.
"""

from __future__ import annotations

from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

from tests.systems.shop import behaviour, config, telemetry

SERVICE_NAME = "shop-celery-worker"
RETRY_COUNTDOWN = 0.5

app = Celery("shop", broker=config.redis_url(), backend=config.redis_url())
app.conf.update(
    task_default_queue=config.queue_name(),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)

_provider = None


@worker_process_init.connect
def _init_tracing(**_kwargs) -> None:
    global _provider
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    _provider = telemetry.setup_tracing(SERVICE_NAME)
    CeleryInstrumentor().instrument()


@worker_process_shutdown.connect
def _shutdown_tracing(**_kwargs) -> None:
    if _provider is not None:
        _provider.shutdown()


def _run(task: Task, order_id: str, scenario: str, recipient: str) -> dict:
    try:
        return behaviour.run_job(
            system="celery",
            job_id=task.request.id,
            order_id=order_id,
            scenario=scenario,
            recipient=recipient,
        )
    except behaviour.TransientError as exc:
        raise task.retry(exc=exc, countdown=RETRY_COUNTDOWN, max_retries=1) from exc


@app.task(bind=True, name="shop.send_order_confirmation")
def send_order_confirmation(self: Task, order_id: str, scenario: str, recipient: str) -> dict:
    return _run(self, order_id, scenario, recipient)


@app.task(
    bind=True,
    name="shop.send_order_confirmation_acks_late",
    acks_late=True,
    reject_on_worker_lost=True,
)
def send_order_confirmation_acks_late(
    self: Task, order_id: str, scenario: str, recipient: str
) -> dict:
    return _run(self, order_id, scenario, recipient)


#: Which task the producer uses for a scenario (everything else uses the default task).
TASK_FOR_SCENARIO = {"crash_first_delivery": send_order_confirmation_acks_late}
