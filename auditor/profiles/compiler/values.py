"""Where a shape reads a column's value (``Value``, ``Attempt``, a shape's ``system``) as SQL
over one span.

Owns the value forms a profile can write: an attribute or resource attribute (read through
the dialect, '' when absent), a literal, a span field, the first non-empty of several, and
parts joined with '/' (empty when any part is); and the attempt number (NULL when absent, so
that ``job_runs`` numbers the runs itself). Called by the classifier and the table builders.

Must never test anything: a value that is not there reads as '' (or NULL for the attempt),
and deciding whether that disqualifies a span is the caller's business.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.profiles.model import Attempt, Profile, Value
from auditor.sqlbuild import col, eq, lit, or_


def value_sql(v: Value, a: str, ctx: Context) -> exp.Expression:
    d = ctx.dialect
    if v.attribute is not None:
        return d.attr(a, v.attribute)
    if v.resource is not None:
        return d.attr(a, v.resource, "ResourceAttributes")
    if v.literal is not None:
        return lit(v.literal)
    if v.span is not None:
        return col(a, {"name": "SpanName", "service": "ServiceName", "scope": "ScopeName"}[v.span])
    if v.first:
        options = [exp.Nullif(this=value_sql(x, a, ctx), expression=lit("")) for x in v.first]
        return exp.Coalesce(this=options[0], expressions=[*options[1:], lit("")])
    parts = [value_sql(x, a, ctx) for x in v.join]
    empty = or_(*(eq(p.copy(), lit("")) for p in parts))
    return exp.Case(
        ifs=[exp.If(this=empty, true=lit(""))], default=ctx.dialect.concat_ws("/", parts)
    )


def attempt_sql(attempt: Attempt, a: str, ctx: Context) -> exp.Expression:
    if attempt.sequence or attempt.attribute is None:
        return exp.cast(exp.Null(), "BIGINT", copy=False)
    number = exp.TryCast(
        this=exp.Nullif(this=ctx.dialect.attr(a, attempt.attribute), expression=lit("")),
        to=exp.DataType.build("BIGINT"),
    )
    # NULL when absent: the job_runs query then numbers the job's runs by start time.
    return exp.Add(this=number, expression=lit(attempt.offset)) if attempt.offset else number


def system_sql(
    shape_system: Value | None, profile: Profile, a: str, ctx: Context
) -> exp.Expression:
    """A shape's system: its own value when it declares one, else the profile's id."""
    return lit(profile.id) if shape_system is None else value_sql(shape_system, a, ctx)
