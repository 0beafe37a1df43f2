"""The SELECT that derives ``error_spans``: one row per span that ended in error, whatever
its profile (the ``effect_ok`` check looks there for a failure the job swallowed).

Owns how each column of ``auditor.tables.ERROR_SPANS`` is computed, in that order; the job id is read from the probes' ``job.id`` attribute when a span has
it. Called by ``compile_profiles``.

Must never depend on profiles: an error is an error whether or not a profile knows the span.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.sqlbuild import alias, col, eq, lit, select
from auditor.tables import ERROR_SPANS


def error_spans_sql(ctx: Context) -> exp.Expression:
    d = ctx.dialect
    a = ctx.alias("s")
    columns = {
        "trace_id": col(a, "TraceId"),
        "span_id": col(a, "SpanId"),
        "parent_span_id": col(a, "ParentSpanId"),
        "span_name": col(a, "SpanName"),
        "start_ns": d.epoch_ns(col(a, "Timestamp")),
        "end_ns": d.end_ns(a),
        "job_id": d.attr(a, "job.id"),
        "status_message": col(a, "StatusMessage"),
        "service": col(a, "ServiceName"),
    }
    return (
        select(*[alias(columns[name], name) for name in ERROR_SPANS.names])
        .from_(ctx.spans(a), copy=False)
        .where(eq(col(a, "StatusCode"), lit("Error")), copy=False)
    )
