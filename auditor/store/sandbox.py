"""The walls around rule SQL: a connection that runs rules cannot read or write files other
than its store, attach databases, load extensions or change settings.

``where:`` conditions are checked as pure expressions before they reach a compiler
(``rules/where.py``); this is the second wall, DuckDB's own: ``enable_external_access`` off
(no file readers or writers, no ATTACH, no extension loading) and the configuration locked
(so a statement cannot turn it back on). Both apply to the whole database instance — every
cursor of it, the sidecar's writer included, which needs neither — and cannot be undone, so
settings a store needs (checkpointing) are made before.
"""

from __future__ import annotations

import duckdb


def sandbox(con: duckdb.DuckDBPyConnection) -> None:
    """Lock ``con``'s database instance down for rule SQL (idempotent)."""
    locked = con.execute("SELECT current_setting('lock_configuration')").fetchall()[0][0]
    if locked:
        return
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
