"""The order workflow: charge, send the receipt, notify the warehouse — or a lie, per mode.

Runs in Temporal's workflow sandbox: activities are named by type (no import of their
module), and probes is passed through so the workflow's ``@probes.expects`` is the real one.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import probes
    from tests.temporal.activities import Order

#: mode -> what the order does (the lies and the honest controls).
MODES = (
    "ok",
    "retry_then_ok",  # honest: attempt 1 fails before sending, attempt 2 sends once
    "missing_confirmation",  # send_receipt says sent, sent nothing
    "swallowed",  # notify_warehouse swallows the relay's 550
    "duplicate",  # send_receipt sends, fails, and its retry sends again
    "unpolled",  # send_receipt is scheduled on a task queue no worker polls
    "no_mail",  # the workflow completes without scheduling its mails
    "declined",  # honest: a non-retryable failure fails the workflow visibly
)

_OPTIONS = {
    "start_to_close_timeout": timedelta(seconds=20),
    "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3),
}


@workflow.defn
class OrderWorkflow:
    @workflow.run
    @probes.expects("email.sent")
    async def run(self, order: Order) -> str:
        if order.mode == "declined":
            await workflow.execute_activity("refuse", order, **_OPTIONS)  # type: ignore[arg-type]
        await workflow.execute_activity("charge_card", order, **_OPTIONS)  # type: ignore[arg-type]
        if order.mode == "no_mail":
            return "done"
        if order.mode == "unpolled":
            try:
                await workflow.execute_activity(
                    "send_receipt", order, task_queue=workflow.info().task_queue + "-nobody",
                    schedule_to_close_timeout=timedelta(seconds=3),
                )  # fmt: skip
            except ActivityError as exc:
                raise ApplicationError("receipt never sent", non_retryable=True) from exc
        else:
            await workflow.execute_activity("send_receipt", order, **_OPTIONS)  # type: ignore[arg-type]
        await workflow.execute_activity("notify_warehouse", order, **_OPTIONS)  # type: ignore[arg-type]
        return "done"
