"""Retention: spans older than the retention period are dropped from the store, in the
background, except those a finding that is still open or pending cites.

A finding's proof must outlive the retention: the spans of every trace an unresolved
finding names — its own trace and the trace of every span in its evidence (the late
confirmation, the failed span, the nearest misses) — are kept whatever their age, so
``audit show``, the API and the TUI can still draw them. Resolved findings keep their rows
(the message and evidence JSON), not their spans. Old ``auditor_batches`` rows go too (they
only say what was committed when), and so do the rows the incremental evaluation derived
from the dropped spans. Deleting old rows never conflicts with the writer's
inserts of new ones.
"""

from __future__ import annotations

import duckdb

_DELETE_SPANS = """
DELETE FROM otel_traces
WHERE "Timestamp" < make_timestamp_ns($cutoff)
  AND "TraceId" NOT IN (SELECT t FROM (
      SELECT trace_id AS t FROM findings WHERE state <> 'resolved' AND trace_id <> ''
      UNION
      SELECT unnest(json_extract_string(evidence, '$[*].trace_id')) FROM findings
      WHERE state <> 'resolved'
  ) WHERE t IS NOT NULL)  -- a NULL inside NOT IN would keep every span
"""
# The rows the sidecar's incremental evaluation keeps derived from spans (schema "derived",
# engine/incremental.py) go with their spans: (table, the column that places a row in time).
_DERIVED_TIME = (
    ("job_runs", "start_ns"), ("enqueues", "enqueued_ns"), ("effects", "start_ns"),
    ("signals", "at_ns"), ("error_spans", "start_ns"),
)  # fmt: skip
_KEPT_TRACES = """
SELECT t FROM (
    SELECT trace_id AS t FROM findings WHERE state <> 'resolved' AND trace_id <> ''
    UNION
    SELECT unnest(json_extract_string(evidence, '$[*].trace_id')) FROM findings
    WHERE state <> 'resolved'
) WHERE t IS NOT NULL
"""
_DELETE_BATCHES = """
DELETE FROM auditor_batches WHERE committed_at < make_timestamp_ns($cutoff)
"""


def drop_old_spans(con: duckdb.DuckDBPyConnection, now_ns: int, retention_s: float) -> int:
    """Delete the spans that started more than ``retention_s`` before ``now_ns`` and that no
    unresolved finding cites; returns how many were deleted."""
    cutoff = now_ns - round(retention_s * 1e9)
    con.begin()
    try:
        deleted = con.execute(_DELETE_SPANS, {"cutoff": cutoff}).fetchall()[0][0]
        con.execute(_DELETE_BATCHES, {"cutoff": cutoff})
        kept = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'derived'"
            ).fetchall()
        }
        for name, column in _DERIVED_TIME:
            if name in kept:
                con.execute(
                    f'DELETE FROM derived."{name}" WHERE {column} < $cutoff '
                    f"AND trace_id NOT IN ({_KEPT_TRACES})",
                    {"cutoff": cutoff},
                )
        if {"owners", "effects", "error_spans"} <= kept:
            # the run each effect and error span belongs to goes with them
            con.execute(
                """DELETE FROM derived.owners AS o WHERE NOT EXISTS (
                       SELECT 1 FROM derived.effects AS e
                       WHERE e.trace_id = o.trace_id AND e.span_id = o.span_id)
                   AND NOT EXISTS (
                       SELECT 1 FROM derived.error_spans AS x
                       WHERE x.trace_id = o.trace_id AND x.span_id = o.span_id)"""
            )
        con.commit()
    except Exception:
        con.rollback()
        raise
    return int(deleted)
