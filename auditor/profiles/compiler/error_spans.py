"""The SELECT that derives ``error_spans``: one row per span that ended in error, whatever
its profile (the ``effect_ok`` check looks there for a failure the job swallowed).

Owns its columns; the job id is read from the probes' ``job.id`` attribute when a span has
it. Called by ``compile_profiles``.

Must never depend on profiles: an error is an error whether or not a profile knows the span.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.sqlbuild import alias, col, eq, lit, select


def error_spans_sql(ctx: Context) -> exp.Expression:
    d = ctx.dialect
    a = ctx.alias("s")
    return (
        select(
            alias(col(a, "TraceId"), "trace_id"),
            alias(col(a, "SpanId"), "span_id"),
            alias(col(a, "ParentSpanId"), "parent_span_id"),
            alias(col(a, "SpanName"), "span_name"),
            alias(d.epoch_ns(col(a, "Timestamp")), "start_ns"),
            alias(d.end_ns(a), "end_ns"),
            alias(d.attr(a, "job.id"), "job_id"),
            alias(col(a, "StatusMessage"), "status_message"),
            alias(col(a, "ServiceName"), "service"),
        )
        .from_(ctx.spans(a), copy=False)
        .where(eq(col(a, "StatusCode"), lit("Error")), copy=False)
    )
