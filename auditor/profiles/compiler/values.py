"""Where a shape reads a column's value (``Value``, ``Attempt``, a shape's ``system``) as SQL
over one span.

Owns the value forms a profile can write: an attribute or resource attribute (read through
the dialect, '' when absent), a literal, a span field (name, service, scope, id, parent
id), the first non-empty of several, parts joined with '/' (empty when any part is), and the
part of a value after a separator; and the attempt number (NULL when absent, so
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
        return col(a, _SPAN_FIELDS[v.span])
    if v.of is not None and v.after is not None:
        return _after(value_sql(v.of, a, ctx), v.after)
    if v.first:
        options = [exp.Nullif(this=value_sql(x, a, ctx), expression=lit("")) for x in v.first]
        return exp.Coalesce(this=options[0], expressions=[*options[1:], lit("")])
    parts = [value_sql(x, a, ctx) for x in v.join]
    empty = or_(*(eq(p.copy(), lit("")) for p in parts))
    return exp.Case(
        ifs=[exp.If(this=empty, true=lit(""))], default=ctx.dialect.concat_ws("/", parts)
    )


_SPAN_FIELDS = {
    "name": "SpanName",
    "service": "ServiceName",
    "scope": "ScopeName",
    "id": "SpanId",
    "parent": "ParentSpanId",
}


def _after(text: exp.Expression, separator: str) -> exp.Expression:
    """The part of ``text`` after the first ``separator``; all of it when there is none
    (``RunActivity:send_receipt`` -> ``send_receipt``)."""
    at = exp.StrPosition(this=text, substr=lit(separator))
    rest = exp.Substring(
        this=text.copy(), start=exp.Add(this=at.copy(), expression=lit(len(separator)))
    )
    return exp.Case(
        ifs=[exp.If(this=exp.GT(this=at, expression=lit(0)), true=rest)], default=text.copy()
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
