"""The tracer every probe span comes from: scope ``probes`` at the package version."""

from __future__ import annotations

from opentelemetry import trace

from probes.jobs import current_job
from probes.version import __version__

SCOPE = "probes"


def get_tracer(tracer_provider: trace.TracerProvider | None = None) -> trace.Tracer:
    """The probes tracer on ``tracer_provider``, else the current job's, else the global one."""
    if tracer_provider is None:
        job = current_job()
        if job is not None:
            tracer_provider = job.tracer_provider
    return trace.get_tracer(SCOPE, __version__, tracer_provider)
