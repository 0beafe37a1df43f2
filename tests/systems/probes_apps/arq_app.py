"""arq app on Redis instrumented with probes.

Worker: ``python -m tests.systems.probes_apps.arq_app`` (``arq.run_worker`` until SIGTERM).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, ClassVar

from arq import Retry, create_pool, run_worker
from arq.connections import RedisSettings

import probes
from probes.adapters.arq import ArqProbes
from tests.systems.probes_apps import behaviour, config, telemetry

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = telemetry.setup(service_name)
    ArqProbes().instrument(tracer_provider=_provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


@probes.expects("email.sent")
async def send_confirmation(ctx: dict[str, Any], scenario: str, order_id: str, recipient: str):
    try:
        # blocking SMTP in a thread; the probes context travels with it (contextvars copy)
        return await asyncio.to_thread(behaviour.run, scenario, order_id, recipient)
    except behaviour.TransientError as exc:
        raise Retry(defer=config.RETRY_DELAY) from exc


def _settings() -> RedisSettings:
    return RedisSettings.from_dsn(config.redis_url())


class WorkerSettings:
    functions: ClassVar[list[Any]] = [send_confirmation]
    queue_name = config.queue()
    redis_settings = _settings()
    max_tries = 2
    poll_delay = 0.1
    handle_signals = True


def enqueue_all(plan: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        pool = await create_pool(_settings(), default_queue_name=config.queue())
        out = []
        for scenario, order_id, recipient in plan:
            job = await pool.enqueue_job("send_confirmation", scenario, order_id, recipient)
            out.append((job.job_id, "send_confirmation"))
        await pool.aclose()
        return out

    return asyncio.run(go())


def main() -> None:
    instrument("probes-arq-worker")
    try:
        run_worker(WorkerSettings)
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
