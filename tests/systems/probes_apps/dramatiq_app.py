"""Dramatiq app on RabbitMQ instrumented with probes (its ``ProbesMiddleware``) and, with
PROBES_OFFICIAL=1, the third-party opentelemetry-instrumentor-dramatiq (contrib has none).

Worker: ``python -m tests.systems.probes_apps.dramatiq_app`` — a real ``dramatiq.Worker`` in
this process (one worker thread) consuming from RabbitMQ until SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import Retries

import probes
from probes.adapters.dramatiq import DramatiqProbes
from tests.systems.probes_apps import behaviour, config, telemetry

broker = RabbitmqBroker(url=config.amqp_url())
for middleware in broker.middleware:
    if isinstance(middleware, Retries):
        middleware.min_backoff = int(config.RETRY_DELAY * 1000)
        middleware.max_backoff = int(config.RETRY_DELAY * 1000)
dramatiq.set_broker(broker)
_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    DramatiqProbes().instrument(broker=broker, tracer_provider=_provider)
    if config.official():
        # After the adapter (the Celery and RQ apps do the opposite): the order does not matter.
        from opentelemetry_instrumentor_dramatiq import DramatiqInstrumentor

        DramatiqInstrumentor().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


@dramatiq.actor(queue_name=config.queue(), max_retries=1)
@probes.expects("email.sent")
def send_confirmation(scenario: str, order_id: str, recipient: str) -> None:
    behaviour.run(scenario, order_id, recipient)


def enqueue(scenario: str, order_id: str, recipient: str) -> tuple[str, str]:
    message = send_confirmation.send(scenario, order_id, recipient)
    return message.message_id, send_confirmation.actor_name


def main() -> None:
    instrument("probes-dramatiq-worker")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        stop.wait()
    finally:
        worker.stop()
        broker.close()
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
