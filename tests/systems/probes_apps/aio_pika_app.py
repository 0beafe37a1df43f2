"""A hand-written aio-pika consumer (manual ack) traced by the contrib
opentelemetry-instrumentation-aio-pika, with probes as docs/messaging.md's recipe says (see
``pika_app``; the same queues and scenarios, ``plain_consumer``).

Worker: ``python -m tests.systems.probes_apps.aio_pika_app``; producer: ``enqueue_all``,
publishing through the instrumented ``Exchange.publish``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid

import aio_pika
from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor

import probes
from tests.systems.probes_apps import behaviour, config, plain_consumer, telemetry

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    AioPikaInstrumentor().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


async def _channel() -> tuple[aio_pika.abc.AbstractConnection, aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(config.amqp_url())
    channel = await connection.channel()
    for queue in plain_consumer.queues().values():
        await channel.declare_queue(queue, arguments=plain_consumer.QUEUE_ARGUMENTS)
    return connection, channel


def enqueue_all(plan: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        connection, channel = await _channel()
        out = []
        for scenario, order_id, recipient in plan:
            message_id = uuid.uuid4().hex
            message = aio_pika.Message(
                plain_consumer.body(scenario, order_id, recipient), message_id=message_id,
                type=plain_consumer.JOB_NAME, content_type="application/json", headers={},
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )  # fmt: skip
            await channel.default_exchange.publish(message, plain_consumer.route(scenario))
            out.append((message_id, plain_consumer.JOB_NAME))
        await connection.close()
        return out

    return asyncio.run(go())


@probes.expects("email.sent")
def send_confirmation(scenario: str, order_id: str, recipient: str) -> None:
    behaviour.run(scenario, order_id, recipient)


def _handler(auto_ack: bool):  # type: ignore[no-untyped-def]
    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        payload = json.loads(message.body)
        with probes.job_run(
            "rabbitmq", message.message_id, message.type, queue=message.routing_key,
            attempt=plain_consumer.attempt(message.redelivered, message.headers),
            key=payload["order_id"],
        ):  # fmt: skip
            try:
                # blocking SMTP in a thread: asyncio.to_thread copies the context, so the
                # confirmation still knows its job
                await asyncio.to_thread(send_confirmation, **payload)
            except behaviour.TransientError:
                probes.mark_retry("nack, requeue")
                if not auto_ack:
                    await message.nack(requeue=True)
                return
            except behaviour.PermanentError as exc:
                probes.mark_failed(str(exc))
                if not auto_ack:
                    await message.nack(requeue=False)
                return
        # the job was marked done when the block ended; only now is it acknowledged
        if not auto_ack:
            await message.ack()

    return on_message


async def _consume(kind: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connection, channel = await _channel()
    await channel.set_qos(prefetch_count=1)
    queue = await channel.get_queue(plain_consumer.queues()[kind])
    auto_ack = kind == "autoack"
    await queue.consume(_handler(auto_ack), no_ack=auto_ack)
    await stop.wait()
    await connection.close()


def consume(kind: str) -> int:
    instrument(f"probes-aio-pika-{kind}")
    try:
        asyncio.run(_consume(kind))
    finally:
        shutdown()
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--consume"]:
        return consume(sys.argv[2])
    return plain_consumer.supervise("tests.systems.probes_apps.aio_pika_app")


if __name__ == "__main__":
    sys.exit(main())
