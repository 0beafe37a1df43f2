"""Fill the derived tables (job_runs, enqueues, effects, signals, error_spans) from spans.

``audit scan`` derives them once per run as temporary tables over the whole store (the input
is complete). The sidecar's incremental evaluation (a later stage) reuses the same compiled
SELECTs over a window of new batches.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from auditor.profiles.compiler import compile_profiles
from auditor.profiles.model import Profile
from auditor.sqlbuild import DUCKDB


def derive(con: duckdb.DuckDBPyConnection, profiles: Iterable[Profile]) -> dict[str, int]:
    """(Re)create the derived tables as TEMP tables; returns their row counts."""
    counts: dict[str, int] = {}
    for name, query in compile_profiles(profiles).items():
        sql = DUCKDB.render(query, pretty=False)
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
        counts[name] = int(con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])
    return counts
