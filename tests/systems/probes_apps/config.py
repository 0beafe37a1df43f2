"""Settings passed by the runner through ``PROBES_APP_*`` environment variables."""

from __future__ import annotations

import os


def redis_url() -> str:
    return os.environ["PROBES_APP_REDIS_URL"]


def queue() -> str:
    return os.environ["PROBES_APP_QUEUE"]


def smtp() -> tuple[str, int]:
    return os.environ.get("PROBES_APP_SMTP_HOST", "127.0.0.1"), int(
        os.environ["PROBES_APP_SMTP_PORT"]
    )


def official() -> bool:
    """Also install the framework's own OpenTelemetry instrumentation."""
    return os.environ.get("PROBES_OFFICIAL") == "1"


def use_job_run() -> bool:
    """The plain consumers wrap each delivery in ``probes.job_run`` (the default)."""
    return os.environ.get("PROBES_PLAIN_JOB_RUN", "1") == "1"


def amqp_url() -> str:
    return os.environ.get("PROBES_APP_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


#: Seconds a crashing job hangs after SMTP MAIL FROM before it SIGKILLs its own process (so the
#: batch span processor has exported the spans of earlier jobs: the crash loses only its own).
CRASH_DELAY = 0.8
#: Delay before a retry, in seconds.
RETRY_DELAY = 0.2
