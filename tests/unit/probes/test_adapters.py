"""Adapters: idempotent ``instrument()`` / ``uninstrument()``, like the contrib instrumentors."""

from __future__ import annotations

import importlib


def _receivers(signal) -> int:
    return len(signal.receivers or [])


def test_celery_instrument_twice_connects_once_and_uninstrument_disconnects():
    importlib.import_module("celery")
    from celery import signals

    from probes.adapters.celery import CeleryProbes

    before = _receivers(signals.task_prerun)
    adapter = CeleryProbes()
    assert CeleryProbes() is adapter
    adapter.instrument()
    adapter.instrument()
    assert adapter.is_instrumented
    assert _receivers(signals.task_prerun) == before + 1
    adapter.uninstrument()
    adapter.uninstrument()
    assert not adapter.is_instrumented
    assert _receivers(signals.task_prerun) == before


def test_rq_patches_are_installed_once_and_removed():
    importlib.import_module("rq")
    from rq.queue import Queue
    from rq.worker import Worker

    from probes.adapters.rq import RQProbes

    originals = (Worker.perform_job, Worker.handle_job_success, Queue._enqueue_job)
    adapter = RQProbes()
    adapter.instrument()
    patched = Worker.perform_job
    assert patched is not originals[0]
    adapter.instrument()
    assert Worker.perform_job is patched
    adapter.uninstrument()
    assert (Worker.perform_job, Worker.handle_job_success, Queue._enqueue_job) == originals
    adapter.uninstrument()


def test_rq_uninstrument_leaves_a_wrapper_someone_else_wrapped_and_it_passes_through():
    importlib.import_module("rq")
    from rq.worker import Worker

    from probes.adapters.rq import RQProbes

    original = Worker.prepare_job_execution
    adapter = RQProbes()
    adapter.instrument()
    ours = Worker.prepare_job_execution
    calls = []

    def theirs(self, job, *args, **kwargs):
        calls.append(job)
        return ours(self, job, *args, **kwargs)

    Worker.prepare_job_execution = theirs
    try:
        adapter.uninstrument()
        assert Worker.prepare_job_execution is theirs
    finally:
        Worker.prepare_job_execution = original


def test_arq_patches_are_installed_once_and_removed():
    importlib.import_module("arq")
    from arq.connections import ArqRedis
    from arq.worker import Worker

    from probes.adapters.arq import ArqProbes

    originals = (Worker.run_job, ArqRedis.enqueue_job)
    adapter = ArqProbes()
    adapter.instrument()
    adapter.instrument()
    assert Worker.run_job is not originals[0]
    adapter.uninstrument()
    adapter.uninstrument()
    assert (Worker.run_job, ArqRedis.enqueue_job) == originals


def test_dramatiq_middleware_is_added_once_before_retries_and_removed():
    importlib.import_module("dramatiq")
    from dramatiq.brokers.stub import StubBroker
    from dramatiq.middleware import Retries

    from probes.adapters.dramatiq import DramatiqProbes, ProbesMiddleware

    broker = StubBroker()
    adapter = DramatiqProbes()
    adapter.instrument(broker=broker)
    adapter.instrument(broker=broker)
    kinds = [type(m) for m in broker.middleware]
    assert kinds.count(ProbesMiddleware) == 1
    assert kinds.index(ProbesMiddleware) < kinds.index(Retries)
    adapter.uninstrument()
    assert ProbesMiddleware not in [type(m) for m in broker.middleware]
