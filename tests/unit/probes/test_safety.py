"""A probe never raises into job code, and costs nothing when tracing is off."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

import probes
import probes.effects
from probes.testing import SpanRecorder, confirmations


class Unprintable:
    def __str__(self) -> str:
        raise ValueError("no text for you")


def test_a_failing_tracer_does_not_reach_the_job(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("tracer exploded")

    monkeypatch.setattr(probes.effects, "get_tracer", broken)
    ran = []
    with caplog.at_level(logging.WARNING, logger="probes"), probes.confirm("email.sent", key="K"):
        ran.append(True)
    assert ran == [True]
    assert "tracer exploded" in caplog.text


def test_the_blocks_exception_still_propagates_when_the_probe_is_broken(monkeypatch):
    monkeypatch.setattr(probes.effects, "get_tracer", lambda *a: 1 / 0)
    with pytest.raises(KeyError), probes.confirm("email.sent"):
        raise KeyError("job bug")


def test_attribute_values_that_cannot_be_converted_are_the_probes_problem(spans):
    with probes.confirm("email.sent", key=Unprintable()):
        pass
    with probes.confirm("email.sent", key="K", weird=Unprintable()):
        pass
    probes.mark_done(weird=Unprintable())
    probes.once("K")
    # nothing raised; what could be recorded was recorded
    assert len(confirmations(spans, "email.sent")) <= 2


def test_with_a_no_op_provider_nothing_is_recorded_and_the_block_runs(spans):
    ran = []
    noop = trace.NoOpTracerProvider()
    with probes.confirm("email.sent", key="K", tracer_provider=noop) as probe:
        ran.append(True)
        probe.fail("ignored")
        probe.set_key("K2")
    assert ran == [True]
    assert not probe.span.is_recording()
    assert confirmations(spans) == []


def test_a_sampled_out_job_records_nothing_and_skips_attribute_work():
    provider = TracerProvider(sampler=ALWAYS_OFF)
    recorder = SpanRecorder(provider)

    @probes.expects("email.sent")
    def job() -> int:
        with probes.confirm("email.sent", key="K"):
            pass
        probes.mark_done()
        return 7

    with probes.job_run("shop", "J", "job", tracer_provider=provider):
        assert job() == 7
    assert recorder.spans == ()
