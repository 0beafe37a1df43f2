"""The shop's own system of record, in Redis (the same DB the job system uses).

* ``shop:order:<key>`` hash: ``status`` (``completed`` once the job marks itself done) and
  ``confirmations`` (how many times the email was confirmed sent).
* ``shop:once:<key>:<what>``: set-if-absent markers. ``first_time(key, what)`` is true exactly
  once per order, which is how a scenario fails or crashes on its first attempt only.

The harness reads ``confirmations`` to know when background effects have finished.
"""

from __future__ import annotations

import functools

import redis

from tests.systems.shop import config


@functools.cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(config.redis_url())


def mark_completed(order_id: str) -> None:
    _client().hset(f"shop:order:{order_id}", "status", "completed")


def record_confirmation(order_id: str) -> None:
    _client().hincrby(f"shop:order:{order_id}", "confirmations", 1)


def first_time(order_id: str, what: str) -> bool:
    return bool(_client().set(f"shop:once:{order_id}:{what}", 1, nx=True))
