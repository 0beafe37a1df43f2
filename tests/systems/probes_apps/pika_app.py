"""A hand-written pika consumer (BlockingConnection, manual ack) traced by the contrib
opentelemetry-instrumentation-pika, with probes as docs/messaging.md's recipe says:
``probes.job_run`` around each delivery (job id = message id, attempt from the delivery,
business key = the order), ``retry_on`` / ``mark_failed`` for nacks, ``expects`` and
``confirm`` in the job, the ack after the job was marked done.

Worker: ``python -m tests.systems.probes_apps.pika_app`` (a supervisor, see
``plain_consumer``); producer: ``enqueue_all`` (``produce.py``), publishing through the
instrumented ``basic_publish``.
"""

from __future__ import annotations

import json
import signal
import sys
import uuid

import pika
from opentelemetry.instrumentation.pika import PikaInstrumentor

import probes
from tests.systems.probes_apps import behaviour, config, plain_consumer, telemetry

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    PikaInstrumentor().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


def _channel() -> tuple[pika.BlockingConnection, pika.adapters.blocking_connection.BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(config.amqp_url()))
    channel = connection.channel()
    for queue in plain_consumer.queues().values():
        channel.queue_declare(queue, arguments=plain_consumer.QUEUE_ARGUMENTS)
    return connection, channel


def enqueue_all(plan: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    connection, channel = _channel()
    out = []
    for scenario, order_id, recipient in plan:
        message_id = uuid.uuid4().hex
        properties = pika.BasicProperties(
            message_id=message_id, type=plain_consumer.JOB_NAME, delivery_mode=2,
            content_type="application/json",
        )  # fmt: skip
        channel.basic_publish(
            "", plain_consumer.route(scenario), plain_consumer.body(scenario, order_id, recipient),
            properties,
        )  # fmt: skip
        out.append((message_id, plain_consumer.JOB_NAME))
    connection.close()
    return out


@probes.expects("email.sent")
def send_confirmation(scenario: str, order_id: str, recipient: str) -> None:
    behaviour.run(scenario, order_id, recipient)


def _handler(auto_ack: bool):  # type: ignore[no-untyped-def]
    def on_message(channel, method, properties, body: bytes) -> None:  # type: ignore[no-untyped-def]
        message = json.loads(body)
        with probes.job_run(
            "rabbitmq", properties.message_id, properties.type, queue=method.routing_key,
            attempt=plain_consumer.attempt(method.redelivered, properties.headers),
            key=message["order_id"],
        ):  # fmt: skip
            try:
                send_confirmation(**message)
            except behaviour.TransientError:
                probes.mark_retry("nack, requeue")
                if not auto_ack:
                    channel.basic_nack(method.delivery_tag, requeue=True)
                return
            except behaviour.PermanentError as exc:
                probes.mark_failed(str(exc))
                if not auto_ack:
                    channel.basic_nack(method.delivery_tag, requeue=False)
                return
        # the job was marked done when the block ended; only now is it acknowledged
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)

    return on_message


def _handler_without_job_run(auto_ack: bool):  # type: ignore[no-untyped-def]
    """The least a consumer can do: ``expects`` and ``confirm`` in the job, ``mark_done``
    before the ack, on the instrumentation's receive span (the messaging profile's run)."""

    def on_message(channel, method, properties, body: bytes) -> None:  # type: ignore[no-untyped-def]
        try:
            send_confirmation(**json.loads(body))
        except behaviour.TransientError:
            if not auto_ack:
                channel.basic_nack(method.delivery_tag, requeue=True)
            return
        except behaviour.PermanentError:
            if not auto_ack:
                channel.basic_nack(method.delivery_tag, requeue=False)
            return
        probes.mark_done()
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)

    return on_message


def consume(kind: str) -> int:
    instrument(f"probes-pika-{kind}")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    connection, channel = _channel()
    channel.basic_qos(prefetch_count=1)
    auto_ack = kind == "autoack"
    handler = _handler if config.use_job_run() else _handler_without_job_run
    channel.basic_consume(plain_consumer.queues()[kind], handler(auto_ack), auto_ack=auto_ack)
    try:
        while not stopping:
            connection.process_data_events(time_limit=0.2)
    finally:
        connection.close()
        shutdown()
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--consume"]:
        return consume(sys.argv[2])
    return plain_consumer.supervise("tests.systems.probes_apps.pika_app")


if __name__ == "__main__":
    sys.exit(main())
