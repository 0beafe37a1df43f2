"""Settings of the shop processes, read from environment variables set by the harness."""

from __future__ import annotations

import os


def redis_url() -> str:
    """Redis URL including the DB number dedicated to this system, e.g. redis://127.0.0.1:6379/13."""
    return os.environ["SHOP_REDIS_URL"]


def queue_name() -> str:
    """The queue this run uses (unique per run, so a stray worker of an old run never steals jobs)."""
    return os.environ["SHOP_QUEUE"]


def smtp_address() -> tuple[str, int]:
    return os.environ.get("SHOP_SMTP_HOST", "127.0.0.1"), int(os.environ["SHOP_SMTP_PORT"])


def crash_delay() -> float:
    """Seconds the crash scenarios hang after SMTP MAIL FROM before the process dies."""
    return float(os.environ.get("SHOP_CRASH_DELAY", "2"))
