"""The SELECT that derives ``job_runs``: one row per execution attempt of a job.

Owns how a run shape computes each column: the outcome (the first ``when`` that holds, else
``unknown``), the signals (the comma-joined names of those that hold), when the run was done
(an event on the span, the earliest such event or child span start / end under it, else the
span's end), and the attempt number (the shape's, else the job's runs numbered by start
time). Called by ``compile_profiles``; the classifying scan itself is ``classifier``'s.

Must never read spans other than through the classifier's scan and the statement's nearby
spans: a child lookup is a LEFT JOIN on the nearby CTE, never a scan of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlglot import exp

from auditor.profiles.compiler.classifier import classified
from auditor.profiles.compiler.columns import (
    JOB_RUN_COLUMNS,
    JOB_RUN_TYPES,
    common_span_columns,
    empty,
)
from auditor.profiles.compiler.conditions import cond_sql, glob_or_eq
from auditor.profiles.compiler.context import Context
from auditor.profiles.compiler.values import attempt_sql, system_sql, value_sql
from auditor.profiles.model import DoneAt, Profile, RunShape
from auditor.sqlbuild import alias, and_, col, eq, join, lit, select, subquery


def job_runs_sql(profiles: list[Profile], ctx: Context) -> exp.Expression:
    runs = classified(
        profiles,
        lambda p: p.runs,
        lambda p, shape, a, joins: _run_columns(shape, p, a, ctx, joins),
        JOB_RUN_COLUMNS,
        ctx,
    )
    if runs is None:
        return empty(JOB_RUN_TYPES)
    q = ctx.alias("q")
    sequence = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col(q, "system"), col(q, "job_id")],
        order=exp.Order(
            expressions=[
                exp.Ordered(this=col(q, "start_ns")),
                exp.Ordered(this=col(q, "span_id")),
            ]
        ),
    )
    return select(
        *[
            alias(exp.Coalesce(this=col(q, "attempt"), expressions=[sequence]), "attempt")
            if c == "attempt"
            else col(q, c)
            for c in JOB_RUN_COLUMNS
        ]
    ).from_(subquery(runs, q), copy=False)


def _run_columns(
    shape: RunShape, profile: Profile, a: str, ctx: Context, joins: list[exp.Join]
) -> dict[str, exp.Expression]:
    """The job_runs columns of one run shape, over the span aliased ``a``."""
    outcome = exp.Case(
        ifs=[exp.If(this=cond_sql(o.when, a, ctx), true=lit(o.is_)) for o in shape.outcome],
        default=lit("unknown"),
    ) if shape.outcome else lit("unknown")  # fmt: skip
    signals = (
        ctx.dialect.concat_ws(
            ",",
            [
                exp.Case(ifs=[exp.If(this=cond_sql(s.when, a, ctx), true=lit(s.signal))])
                for s in shape.signals
            ],
        )
        if shape.signals
        else lit("")
    )
    return {
        **common_span_columns(a, ctx),
        "system": system_sql(shape.system, profile, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "job_name": value_sql(shape.job_name, a, ctx),
        "queue": value_sql(shape.queue, a, ctx),
        "attempt": attempt_sql(shape.attempt, a, ctx),
        "outcome": outcome,
        "done_ns": _done_at_sql(shape.done_at, a, ctx, joins),
        "status": col(a, "StatusCode"),
        "expected_effects": ctx.dialect.attr(a, shape.expected_effects),
        "signals": signals,
        "profile": lit(profile.id),
    }


def _done_at_sql(
    candidates: Iterable[DoneAt], a: str, ctx: Context, joins: list[exp.Join]
) -> exp.Expression:
    d = ctx.dialect
    options: list[exp.Expression] = []
    for c in candidates:
        if c.event is not None and c.on == "self":
            options.append(d.event_ns(a, lit(c.event)))
        elif c.event is not None:
            inner = ctx.alias("c")
            options.append(
                _child_min(
                    ctx,
                    a,
                    joins,
                    d.has_event(inner, lit(c.event)),
                    d.event_ns(inner, lit(c.event)),
                    inner,
                )
            )
        elif c.child_start is not None:
            inner = ctx.alias("c")
            where = glob_or_eq(ctx, col(inner, "SpanName"), c.child_start)
            options.append(
                _child_min(ctx, a, joins, where, d.epoch_ns(col(inner, "Timestamp")), inner)
            )
        elif c.child_end is not None:
            inner = ctx.alias("c")
            where = glob_or_eq(ctx, col(inner, "SpanName"), c.child_end)
            options.append(_child_min(ctx, a, joins, where, d.end_ns(inner), inner))
    options.append(d.end_ns(a))  # no explicit marker: the run span's end
    return (
        exp.Coalesce(this=options[0], expressions=options[1:]) if len(options) > 1 else options[0]
    )


def _child_min(
    ctx: Context,
    a: str,
    joins: list[exp.Join],
    where: exp.Expression,
    measure: exp.Expression,
    inner: str,
) -> exp.Expression:
    """min(measure) over the direct children of span ``a`` that satisfy ``where``."""
    name = ctx.alias("d")
    query = (
        select(
            alias(col(inner, "TraceId"), "trace_id"),
            alias(col(inner, "ParentSpanId"), "parent_id"),
            alias(exp.Min(this=measure), "v"),
        )
        .from_(ctx.nearby(inner, where), copy=False)
        .where(where, copy=False)
        .group_by(col(inner, "TraceId"), col(inner, "ParentSpanId"), copy=False)
    )
    on = and_(
        eq(col(name, "trace_id"), col(a, "TraceId")), eq(col(name, "parent_id"), col(a, "SpanId"))
    )
    joins.append(join("left", subquery(query, name), on))
    return col(name, "v")
