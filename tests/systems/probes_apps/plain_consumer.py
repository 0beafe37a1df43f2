"""What the hand-written RabbitMQ consumers share (``pika_app``, ``aio_pika_app``): the queues,
where each scenario's message goes, the message, and a supervisor that keeps the consumer
processes alive.

Three queues per run, all expiring two minutes after their last use:

* ``<queue>`` — a manual-ack consumer (prefetch 1) takes the jobs; a job that fails
  transiently is nacked with requeue (the broker redelivers it at once, ``redelivered`` set),
  one that fails for good is nacked without requeue (dropped: a visible failure);
* ``<queue>.autoack`` — an auto-ack consumer: the broker forgets a message as soon as it is
  delivered, so a consumer killed mid-job loses it (``crash``: a lost job);
* ``<queue>.nobody`` — nobody consumes it (``lost_unconsumed``: a lost job).

The supervisor (``python -m tests.systems.probes_apps.<app>``) runs one consumer process per
consuming queue, restarts one that died (a job that SIGKILLs its process), and on SIGTERM
stops them gracefully so their batch span processors flush.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from tests.systems.probes_apps import config

#: Queues are deleted by the broker two minutes after their last use.
QUEUE_ARGUMENTS: dict[str, Any] = {"x-expires": 120_000}
JOB_NAME = "send_confirmation"
CONSUMING = ("main", "autoack")


def queues() -> dict[str, str]:
    base = config.queue()
    return {"main": base, "autoack": f"{base}.autoack", "nobody": f"{base}.nobody"}


def route(scenario: str) -> str:
    kind = {"crash": "autoack", "lost_unconsumed": "nobody"}.get(scenario, "main")
    return queues()[kind]


def body(scenario: str, order_id: str, recipient: str) -> bytes:
    return json.dumps({"scenario": scenario, "order_id": order_id, "recipient": recipient}).encode()


def attempt(redelivered: bool, headers: dict[str, Any] | None) -> int:
    """The delivery's attempt number: quorum queues count deliveries in ``x-delivery-count``
    (absent on the first); classic queues only say whether the message was delivered before."""
    count = (headers or {}).get("x-delivery-count")
    if count is not None:
        return int(count) + 1
    return 2 if redelivered else 1


def supervise(module: str) -> int:
    """Run ``python -m module --consume KIND`` per consuming queue until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    children: dict[str, subprocess.Popen] = {}

    def spawn(kind: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", module, "--consume", kind])

    for kind in CONSUMING:
        children[kind] = spawn(kind)
    while not stop.wait(0.1):
        for kind, child in children.items():
            if child.poll() is not None:  # a job killed its process: start another
                children[kind] = spawn(kind)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        child.wait(timeout=max(0.1, deadline - time.monotonic()))
    return 0
