"""probes: what job code imports to prove its side effects with OpenTelemetry spans.

Depends on ``opentelemetry-api`` only (a test checks that importing it loads no duckdb,
textual, grpc, typer, pyarrow or aiohttp). The span shapes are docs/design.md's "probe
conventions"; the attribute keys are in ``probes.semconv``.

    from probes import confirm, expects

    @app.task
    @expects("email.sent")
    def send_receipt(order_id):
        with confirm("email.sent", key=order_id):
            smtp.send_message(receipt(order_id))

``job_run`` records one execution of a job no adapter covers (a plain message consumer):
done, ``mark_retry`` / ``mark_failed``, a business key (``key=``, ``set_key``); ``enqueue``
records a publish the broker client's instrumentation does not.

Framework adapters (``probes.adapters.celery``, ``.rq``, ``.dramatiq``, ``.arq``) know the
current job, add ``job.*`` attributes, ``job.outcome`` and the ``job.done`` event to the job
run span. ``probes.guard.effect_once`` performs an effect once per key (its Redis or
PostgreSQL driver is imported only when a store is used). ``probes.testing`` helps assert
confirmations in tests.
"""

from probes.effects import confirm, expects, mark_done, once
from probes.jobs import JobContext, current_job
from probes.runs import enqueue, job_run, mark_failed, mark_retry, set_key
from probes.version import __version__

__all__ = [
    "JobContext",
    "__version__",
    "confirm",
    "current_job",
    "enqueue",
    "expects",
    "job_run",
    "mark_done",
    "mark_failed",
    "mark_retry",
    "once",
    "set_key",
]
