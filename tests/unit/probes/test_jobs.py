"""``expects``, ``mark_done`` and ``job_run``: the job run span's attributes and events."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import probes
from probes.testing import confirmations


def test_expects_records_the_declared_effects_on_the_job_run_span(spans):
    @probes.expects("email.sent", "crm.updated")
    def job() -> str:
        with probes.confirm("email.sent", key="ORD-1"):
            pass
        return "done"

    with probes.job_run("shop", "J-1", "job"):
        assert job() == "done"
    (run,) = spans.named("run job")
    assert run.kind is SpanKind.CONSUMER
    assert tuple(run.attributes["job.expected_effects"]) == ("email.sent", "crm.updated")
    assert run.attributes["job.system"] == "shop"
    assert run.attributes["job.id"] == "J-1"
    assert run.attributes["job.outcome"] == "done"
    assert [e.name for e in run.events] == ["job.done"]
    (confirm,) = confirmations(spans, "email.sent")
    assert confirm.parent.span_id == run.context.span_id


def test_expects_keeps_the_function_a_coroutine_function():
    import inspect

    @probes.expects("email.sent")
    async def job(ctx: dict) -> None:
        pass

    assert inspect.iscoroutinefunction(job)


def test_mark_done_is_the_done_event_and_the_run_does_not_add_a_second_one(spans):
    with probes.job_run("shop", "J-2", "job"):
        with probes.confirm("email.sent", key="ORD-2"):
            pass
        probes.mark_done(**{"job.status": "completed"})
    (run,) = spans.named("run job")
    done = [e for e in run.events if e.name == "job.done"]
    assert len(done) == 1
    assert done[0].attributes["job.status"] == "completed"
    assert done[0].attributes["job.id"] == "J-2"
    (confirm,) = confirmations(spans, "email.sent")
    assert confirm.end_time <= done[0].timestamp


def test_a_job_that_raises_is_failed_with_error_status_and_the_exception_propagates(spans):
    error = RuntimeError("customer record not found")
    with pytest.raises(RuntimeError) as raised, probes.job_run("shop", "J-3", "job"):
        raise error
    assert raised.value is error
    (run,) = spans.named("run job")
    assert run.attributes["job.outcome"] == "failed"
    assert run.status.status_code is StatusCode.ERROR
    assert "job.done" not in [e.name for e in run.events]


def test_current_job_is_known_inside_and_gone_after():
    assert probes.current_job() is None
    with probes.job_run("shop", "J-4", "job", queue="mail", attempt=2) as job:
        assert probes.current_job() is job
        assert (job.system, job.id, job.queue, job.attempt) == ("shop", "J-4", "mail", 2)
    assert probes.current_job() is None
