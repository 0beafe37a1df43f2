"""The SELECT that derives ``signals``: one row per fact reported about a job by id outside
its trace (BullMQ's ``job stalled`` event names the job in its attributes).

Owns how a signal shape turns each matching event of a matching span into a row: the job id
read from the event's attributes, the event's time, the span's name as a note. Called by
``compile_profiles``; the table is the UNION ALL of every profile's signal shapes.

Must never tie a signal to a job run itself: the rules join signals to runs by system and
job id.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.columns import SIGNAL_TYPES, empty, union_all
from auditor.profiles.compiler.conditions import cond_sql
from auditor.profiles.compiler.context import Context
from auditor.profiles.compiler.values import system_sql
from auditor.profiles.model import Profile, SignalShape
from auditor.sqlbuild import alias, col, eq, func, lit, select, subquery


def signals_sql(profiles: list[Profile], ctx: Context) -> exp.Expression:
    sig = union_all([signal_sql(s, p, ctx) for p in profiles for s in p.signals])
    return empty(SIGNAL_TYPES) if sig is None else sig


def signal_sql(shape: SignalShape, profile: Profile, ctx: Context) -> exp.Select:
    """One row per event ``shape.event`` on matching spans (DuckDB: parallel ``unnest``)."""
    a = ctx.alias("s")
    events = (
        select(
            alias(system_sql(shape.system, profile, a, ctx), "system"),
            alias(func("unnest", col(a, "Events.Name")), "ev_name"),
            alias(func("unnest", col(a, "Events.Attributes")), "ev_attrs"),
            alias(func("unnest", col(a, "Events.Timestamp")), "ev_time"),
            alias(col(a, "TraceId"), "trace_id"),
            alias(col(a, "SpanId"), "span_id"),
            alias(col(a, "SpanName"), "span_name"),
        )
        .from_(ctx.spans(a), copy=False)
        .where(cond_sql(shape.match, a, ctx), copy=False)
    )
    e = ctx.alias("e")
    d = ctx.dialect
    return (
        select(
            alias(col(e, "system"), "system"),
            alias(d.attr(e, shape.job_id_attribute, "ev_attrs"), "job_id"),
            alias(lit(shape.signal), "signal"),
            alias(d.epoch_ns(col(e, "ev_time")), "at_ns"),
            alias(col(e, "trace_id"), "trace_id"),
            alias(col(e, "span_id"), "span_id"),
            alias(col(e, "span_name"), "note"),
        )
        .from_(subquery(events, e), copy=False)
        .where(eq(col(e, "ev_name"), lit(shape.event)), copy=False)
    )
