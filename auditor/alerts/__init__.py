"""Alerting: telling people, through the sinks of ``alerts:`` in ``audit.yaml``, that jobs lied.

``Alerting`` is the one entry point for the sidecar (docs/alerts.md says what users see)::

    alerting = Alerting(store.cursor, settings.alerts, clock, rules=rule_infos(catalog))
    alerting.start()                          # the dispatcher's threads and the ticker
    alerting.enqueue(con, opened, resolved)   # after each evaluation saved its findings
    # (or EvaluationLoop(on_change=alerting.on_change), which does that)
    alerting.stats()                          # for /healthz and metrics
    alerting.stop()

``store`` is a function returning a new DuckDB connection to the store (``DuckStore.cursor``:
every dispatcher thread gets its own), or a store path (opened, and migrated, here).
``opened`` and ``resolved`` are fingerprints whose findings became ``open`` / ``resolved``;
reporting one twice, or one that did not change, sends nothing twice (``outbox``). The ticker
(``start()``) runs ``tick`` every ``tick_s``: transitions nobody reported (``reconcile``),
the repeats that are due, and pruning; callers may also ``tick`` themselves. With no
sinks configured every method does nothing. The parts: ``config`` (the ``alerts:`` list),
``model`` and ``routing`` (pure), ``formats`` (one payload builder per sink, pure),
``outbox`` (the store's tables), ``senders`` (HTTP, SMTP), ``dispatcher`` (threads, retries).
"""

from __future__ import annotations

from typing import Any

# ``Alerting`` (its dispatcher, HTTP and SMTP senders) loads when first used: reading
# ``audit.yaml`` needs only ``alerts.config``, and every ``audit`` command reads it.
__all__ = ["Alerting", "AlertsConfig", "parse_alerts"]


def __getattr__(name: str) -> Any:
    if name == "Alerting":
        from auditor.alerts.service import Alerting

        return Alerting
    if name in ("AlertsConfig", "parse_alerts"):
        from auditor.alerts import config

        return getattr(config, name)
    raise AttributeError(name)
