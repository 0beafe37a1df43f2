"""A Celery app whose tasks perform their effects through ``probes.guard.effect_once``.

Worker: ``celery -A tests.systems.guard_app worker -P prefork -c 1 -Q $GUARD_APP_QUEUE``.
Producer: ``python -m tests.systems.guard_app PLAN JOBS`` enqueues one task per line of PLAN
(a JSON list of ``{"task", "guard", "scenario", "order_id", "recipients"}``), waits for every
result and writes ``[{..., "job_id", "job_name", "state"}]`` to JOBS.

Settings come from ``GUARD_APP_*`` variables: ``BROKER`` (a Redis URL: broker, result
backend and this app's markers), ``QUEUE``, ``SMTP_PORT``, ``PREFIX`` (the Redis store's key
prefix and the markers'), ``PG_DSN`` and ``PG_TABLE`` (the PostgreSQL store's table; the
ledger table is ``<PG_TABLE>_ledger``), ``LEASE`` (seconds). Spans go over OTLP/HTTP to
``OTEL_EXPORTER_OTLP_ENDPOINT``, as in the other apps.

Tasks (``guard`` is ``redis``, ``postgres`` or ``none``: the same effect with ``confirm`` only):

* ``guard_app.send_receipt`` — emails the receipt of ``order_id``; scenarios: ``fail_after``
  (the first attempt fails *after* the email went out, Celery retries), ``race`` (the effect
  takes 1.5 s, so a concurrent task for the same order arrives while it runs), ``verify``
  (one recipient is refused: ``sendmail`` reports it without raising, and the read-back
  ``verify`` says the receipt was not accepted), ``ok``.
* ``guard_app.send_receipt_acks_late`` — the same, ``acks_late``: scenario ``crash`` SIGKILLs
  the worker child inside the guarded block (before sending) on the first delivery.
* ``guard_app.write_ledger`` — inserts the order's ledger row in PostgreSQL, the key in the
  same transaction (``effect_once(..., connection=conn)``); scenario ``fail_after``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import smtplib
import sys
import time
from email.message import EmailMessage
from typing import Any

import psycopg
import redis
from celery import Celery, Task
from celery.signals import worker_process_init, worker_process_shutdown

import probes
from probes.adapters.celery import CeleryProbes
from probes.guard import PostgresStore, RedisStore, effect_once
from tests.systems.shop.telemetry import setup_tracing

SENDER = "orders@shop.test"
RETRY_DELAY = 0.2
#: How long the effect takes in the ``race`` scenario.
RACE_EFFECT_S = 1.5


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"GUARD_APP_{name}", default)


BROKER = _env("BROKER", "redis://127.0.0.1:6379/7")
PREFIX = _env("PREFIX", "guard-app:")
LEASE = float(_env("LEASE", "10"))
PG_TABLE = _env("PG_TABLE", "guard_app")
LEDGER = f"{PG_TABLE}_ledger"

app = Celery("guard_app", broker=BROKER, backend=BROKER)
app.conf.update(
    task_default_queue=_env("QUEUE", "guard-app"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

STORES: dict[str, Any] = {
    "redis": RedisStore(BROKER, prefix=f"{PREFIX}effects:", lease=LEASE),
    "postgres": PostgresStore(_env("PG_DSN") or None, table=PG_TABLE, lease=LEASE),
}

_provider = None


def instrument(service_name: str) -> None:
    global _provider
    _provider = setup_tracing(service_name)
    CeleryProbes().instrument(tracer_provider=_provider)


@worker_process_init.connect(weak=False)
def _init(**_kwargs: Any) -> None:
    instrument("guard-app-worker")


@worker_process_shutdown.connect(weak=False)
def _shutdown(**_kwargs: Any) -> None:
    if _provider is not None:
        _provider.shutdown()


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(BROKER)


def first_time(order_id: str, what: str) -> bool:
    """True once per (order, what), across processes: the first attempt's marker."""
    return bool(_redis().set(f"{PREFIX}once:{order_id}:{what}", 1, nx=True, ex=3600))


class TransientError(Exception):
    """The CRM timed out after the effect: worth a retry."""


# ----------------------------------------------------------------------------- the effects


def deliver(order_id: str, recipients: list[str], scenario: str) -> dict[str, Any]:
    """Email the receipt; returns the recipients the server refused (``sendmail``'s answer)."""
    if scenario == "crash" and first_time(order_id, "crash"):
        _redis().set(f"{PREFIX}crashed-at:{order_id}", repr(time.time()), ex=3600)
        os.kill(os.getpid(), signal.SIGKILL)  # the worker child dies inside the guarded block
    if scenario == "race":
        time.sleep(RACE_EFFECT_S)
    message = EmailMessage()
    message["From"], message["To"] = SENDER, ", ".join(recipients)
    message["Subject"] = f"Receipt for order {order_id}"
    message["X-Order-Id"] = order_id
    message.set_content(f"Order {order_id} is paid.\n")
    with smtplib.SMTP("127.0.0.1", int(_env("SMTP_PORT")), timeout=10) as smtp:
        return smtp.sendmail(SENDER, recipients, message.as_bytes())


def accepted(refused: dict[str, Any], *_args: Any) -> bool:
    """The read-back: the server accepted the receipt for every recipient."""
    return not refused


def _key(order_id: str, *_args: Any) -> str:
    return order_id


SENDERS = {
    kind: effect_once("email.sent", key=_key, store=store, verify=accepted)(deliver)
    for kind, store in STORES.items()
}
SENDERS["none"] = probes.confirm("email.sent", key=_key, verify=accepted)(deliver)


@effect_once(
    "ledger.written",
    key=lambda conn, order_id: order_id,
    store=STORES["postgres"],
    connection=lambda conn, order_id: conn,
)
def write_ledger_row(conn: psycopg.Connection, order_id: str) -> None:
    conn.execute(f"INSERT INTO {LEDGER} (order_id) VALUES (%s)", (order_id,))


# ----------------------------------------------------------------------------- the tasks


def _fail_after(task: Task, order_id: str, scenario: str) -> None:
    if scenario == "fail_after" and first_time(order_id, "fail-after"):
        exc = TransientError("crm timeout after the effect")
        raise task.retry(exc=exc, countdown=RETRY_DELAY, max_retries=1)


def _send(task: Task, guard: str, scenario: str, order_id: str, recipients: list[str]) -> str:
    SENDERS[guard](order_id, recipients, scenario)
    _fail_after(task, order_id, scenario)
    return "done"


@app.task(bind=True, name="guard_app.send_receipt")
@probes.expects("email.sent")
def send_receipt(self: Task, guard: str, scenario: str, order_id: str, recipients: list[str]):
    return _send(self, guard, scenario, order_id, recipients)


@app.task(
    bind=True, name="guard_app.send_receipt_acks_late", acks_late=True,
    reject_on_worker_lost=True,
)  # fmt: skip
@probes.expects("email.sent")
def send_receipt_acks_late(
    self: Task, guard: str, scenario: str, order_id: str, recipients: list[str]
):
    return _send(self, guard, scenario, order_id, recipients)


@app.task(bind=True, name="guard_app.write_ledger")
@probes.expects("ledger.written")
def write_ledger(self: Task, guard: str, scenario: str, order_id: str, recipients: list[str]):
    with psycopg.connect(_env("PG_DSN")) as conn:
        write_ledger_row(conn, order_id)  # commits the row and the key before returning
    _fail_after(self, order_id, scenario)
    return "done"


TASKS = {t.name: t for t in (send_receipt, send_receipt_acks_late, write_ledger)}


# ----------------------------------------------------------------------------- producer


def produce(plan_path: str, jobs_path: str, timeout: float = 90.0) -> None:
    with open(plan_path) as f:
        plan = json.load(f)
    instrument("guard-app-api")
    try:
        results = []
        for item in plan:
            task = TASKS[item["task"]]
            args = (item["guard"], item["scenario"], item["order_id"], item["recipients"])
            results.append((item, task.apply_async(args=args)))
    finally:
        if _provider is not None:
            _provider.shutdown()
    deadline = time.monotonic() + timeout
    jobs = []
    for item, result in results:
        try:
            result.get(timeout=max(1.0, deadline - time.monotonic()), propagate=False)
        except Exception as exc:  # a timeout: reported, the test decides
            print(f"{item['order_id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
        jobs.append({**item, "job_id": result.id, "job_name": item["task"], "state": result.state})
    with open(jobs_path, "w") as f:
        json.dump(jobs, f, indent=2)


if __name__ == "__main__":
    produce(*sys.argv[1:])
