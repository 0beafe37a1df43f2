"""The shop's RQ job function. RQ retries it when it raises and was enqueued with ``Retry``."""

from __future__ import annotations

from rq import get_current_job

from tests.systems.shop import behaviour


def send_order_confirmation(order_id: str, scenario: str, recipient: str) -> dict:
    return behaviour.run_job(
        system="rq",
        job_id=get_current_job().id,
        order_id=order_id,
        scenario=scenario,
        recipient=recipient,
    )
