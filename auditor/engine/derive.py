"""Fill the derived tables (job_runs, enqueues, effects, signals, error_spans) from spans.

``audit scan`` derives them once per run as temporary tables over the whole store (the input
is complete). The sidecar's incremental evaluation (``engine/incremental.py``) runs the same
compiled SELECTs over a window of spans (``source``: the spans of the traces that changed).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import duckdb

from auditor.profiles.compiler import compile_profiles
from auditor.profiles.model import Profile
from auditor.sqlbuild import DUCKDB, col, select, subquery, table
from auditor.tables import DERIVED, OPTIONAL_COLUMNS

_COLUMNS = {table.name: table.names for table in DERIVED}


@functools.lru_cache(maxsize=64)
def derived_sql(
    profiles: tuple[Profile, ...],
    optional: frozenset[tuple[str, str]] | None = None,
    source: str | None = None,
) -> tuple[tuple[str, str], ...]:
    """(table, SELECT text) of each derived table; compiled once per set of profiles.
    ``optional``: the (table, column) pairs of ``OPTIONAL_COLUMNS`` to derive (the ones the
    rules read, ``rules.compiler.optional_columns``); None derives every column. The
    columns, and which are optional, are ``auditor.tables``'s. ``source``: the table the
    spans are read from (default ``otel_traces``)."""
    out = []
    spans = table(source) if source is not None else None
    for name, query in compile_profiles(profiles, source=spans).items():
        skipped = [
            column
            for column in OPTIONAL_COLUMNS.get(name, ())
            if optional is not None and (name, column) not in optional
        ]
        if skipped:
            # DuckDB then computes none of the skipped columns inside the query
            kept = [c for c in _COLUMNS[name] if c not in skipped]
            query = select(*[col(None, c) for c in kept]).from_(subquery(query, name))
        out.append((name, DUCKDB.render(query, pretty=False, consume=True)))
    return tuple(out)


def derive(con: duckdb.DuckDBPyConnection, profiles: Iterable[Profile]) -> None:
    """(Re)create the derived tables as TEMP tables."""
    make_derived(con, derived_sql(tuple(profiles)))


def make_derived(con: duckdb.DuckDBPyConnection, tables: Iterable[tuple[str, str]]) -> None:
    """(Re)create the derived tables of ``derived_sql`` as TEMP tables."""
    for name, sql in tables:
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
