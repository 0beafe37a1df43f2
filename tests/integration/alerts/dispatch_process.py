"""A process that delivers a store's outbox until it is killed (the restart tests SIGKILL it).

``python -m tests.integration.alerts.dispatch_process DB ALERTS_JSON``: opens the store for
writing, starts ``Alerting``'s dispatcher on it with the ``alerts:`` list given as JSON, prints
``dispatching`` and waits.
"""

from __future__ import annotations

import json
import sys
import time

from auditor.alerts import Alerting
from auditor.store.duck import DuckStore


def main() -> None:
    store = DuckStore(sys.argv[1])
    alerting = Alerting(store.cursor, json.loads(sys.argv[2]), poll_s=0.05)
    alerting.start()
    print("dispatching", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
