"""The derived tables' columns: their names and order, their types, and the pieces every
table builder shares.

Owns ``JOB_RUN_COLUMNS``, ``ENQUEUE_COLUMNS``, ``EFFECT_COLUMNS`` and ``SIGNAL_COLUMNS`` (the
order of each SELECT, which ``engine.derive`` and the rule compiler rely on), the SQL type of
each column (used only for the typed empty table a catalog without such shapes derives), the
columns any table taken from one span shares (times, ids, service, attributes …), and the
UNION ALL of one table's per-shape SELECTs. Called by the table builders; the name lists are
re-exported by ``auditor.profiles.compiler``.

Must never compute a column that depends on a shape: that belongs to the table's builder.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.sqlbuild import alias, col, select

JOB_RUN_COLUMNS = (
    "system", "job_id", "job_name", "queue", "attempt", "outcome", "done_ns", "start_ns",
    "end_ns", "trace_id", "span_id", "parent_span_id", "service", "span_name", "status",
    "attributes", "expected_effects", "signals", "link_trace_ids", "batch_id", "profile",
)  # fmt: skip
ENQUEUE_COLUMNS = (
    "system", "job_id", "job_name", "queue", "enqueued_ns", "trace_id", "span_id", "service",
    "span_name", "attributes", "batch_id", "profile",
)  # fmt: skip
EFFECT_COLUMNS = (
    "effect_name", "effect_key", "job_id", "system", "ok", "start_ns", "end_ns", "trace_id",
    "span_id", "parent_span_id", "service", "span_name", "status_message", "attributes",
    "link_trace_ids", "batch_id",
)  # fmt: skip
SIGNAL_COLUMNS = ("system", "job_id", "signal", "at_ns", "trace_id", "span_id", "note")

JOB_RUN_TYPES = {
    "system": "VARCHAR", "job_id": "VARCHAR", "job_name": "VARCHAR", "queue": "VARCHAR",
    "attempt": "BIGINT", "outcome": "VARCHAR", "done_ns": "BIGINT", "start_ns": "BIGINT",
    "end_ns": "BIGINT", "trace_id": "VARCHAR", "span_id": "VARCHAR", "parent_span_id": "VARCHAR",
    "service": "VARCHAR", "span_name": "VARCHAR", "status": "VARCHAR", "attributes": "JSON",
    "expected_effects": "VARCHAR", "signals": "VARCHAR", "link_trace_ids": "VARCHAR[]",
    "batch_id": "UBIGINT", "profile": "VARCHAR",
}  # fmt: skip
ENQUEUE_TYPES = {k: JOB_RUN_TYPES.get(k, "BIGINT") for k in ENQUEUE_COLUMNS}
EFFECT_TYPES = {
    k: ("BOOLEAN" if k == "ok" else JOB_RUN_TYPES.get(k, "VARCHAR")) for k in EFFECT_COLUMNS
}
SIGNAL_TYPES = {k: ("BIGINT" if k == "at_ns" else "VARCHAR") for k in SIGNAL_COLUMNS}


def common_span_columns(a: str, ctx: Context) -> dict[str, exp.Expression]:
    d = ctx.dialect
    return {
        "start_ns": d.epoch_ns(col(a, "Timestamp")),
        "end_ns": d.end_ns(a),
        "trace_id": col(a, "TraceId"),
        "span_id": col(a, "SpanId"),
        "parent_span_id": col(a, "ParentSpanId"),
        "service": col(a, "ServiceName"),
        "span_name": col(a, "SpanName"),
        "attributes": col(a, "SpanAttributes"),
        "link_trace_ids": col(a, "Links.TraceId"),
        "batch_id": col(a, "BatchId"),
    }


def union_all(selects: list[exp.Select]) -> exp.Expression | None:
    if not selects:
        return None
    query: exp.Expression = selects[0]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False)
    return query


def empty(columns: dict[str, str]) -> exp.Select:
    """A table with these columns and types and no rows."""
    return select(*[alias(exp.cast(exp.Null(), t), n) for n, t in columns.items()]).where(
        exp.false(), copy=False
    )
