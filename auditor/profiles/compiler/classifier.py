"""The single classifying scan behind ``job_runs`` and ``enqueues``: each span is matched
against every shape once, takes the first it matches, and every column is then computed once.

Owns the order shapes are tried in (lower ``priority`` first, so a span two profiles
recognize belongs to the more specific one), the CASE that numbers a span's shape,
the tests every shape makes (pushed into the scan), the job id's non-empty test, the sharing
of one CASE branch by shapes that compute a column alike, and the one parse of a recognized
span's attributes for all its columns. Called by the ``job_runs`` and ``enqueues`` builders,
which say which shapes a profile has (``shapes_of``) and how a shape computes each column
(``columns_of``).

Must never know what a column means (its builder does) and must never scan the spans more
than once, whatever the number of shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TypeVar, cast

from sqlglot import exp

from auditor.profiles.compiler.conditions import cond_sql, cost
from auditor.profiles.compiler.context import Context
from auditor.profiles.compiler.values import value_sql
from auditor.profiles.model import Cond, EnqueueShape, Profile, RunShape, Value
from auditor.sqlbuild import (
    alias,
    and_,
    col,
    eq,
    lit,
    read_attributes_once,
    select,
    subquery,
    with_attribute_values,
)

# the span columns a classified span carries (every condition and value reads only these)
SPAN_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
    "ScopeName", "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode",
    "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId",
    "BatchId",
)  # fmt: skip


Shape = TypeVar("Shape", bound=RunShape | EnqueueShape)


def classified(
    profiles: list[Profile],
    shapes_of: Callable[[Profile], Iterable[Shape]],
    columns_of: Callable[[Profile, Shape, str, list[exp.Join]], dict[str, exp.Expression]],
    names: tuple[str, ...],
    ctx: Context,
) -> exp.Select | None:
    """One pass over the spans: each span takes the first shape it matches, in priority
    order (a span two profiles recognize belongs to the more specific one), then every column
    is the expression of its shape. One scan instead of one per shape, and no ranking
    window for the priority. None when no profile has such shapes."""
    ordered = sorted(profiles, key=lambda p: (p.priority, p.id))
    shapes = [(p, shape) for p in ordered for shape in shapes_of(p)]
    if not shapes:
        return None
    a = ctx.alias("s")
    ifs = []
    common: set[exp.Expression] | None = None  # column tests every shape makes
    for index, (_, shape) in enumerate(shapes, 1):
        job_id = value_sql(shape.job_id, a, ctx)
        match = _match_with_job_id(shape.match, shape.job_id, a, ctx)
        tests = {c for c in match if cost(c) == 0}
        common = tests if common is None else common & tests
        matches = and_(*match, exp.NEQ(this=job_id, expression=lit("")))
        ifs.append(exp.If(this=matches, true=lit(index)))
    shape_of = exp.Case(ifs=ifs)
    inner = select(*[col(a, c) for c in SPAN_COLUMNS], alias(shape_of, "shape")).from_(
        ctx.spans(a), copy=False
    )
    if common:
        # e.g. every enqueue is a producer span: DuckDB tests that in the scan, and reads
        # the other columns (the attributes) of those spans only
        inner = inner.where(and_(*[c.copy() for c in sorted(common, key=str)]), copy=False)
    c = ctx.alias("c")
    joins: list[exp.Join] = []
    per_shape = [columns_of(profile, shape, c, joins) for profile, shape in shapes]
    selected = []
    for name in names:
        # shapes that compute a column alike share one branch; one for all needs no CASE
        alike: dict[exp.Expression, list[int]] = {}
        for index, columns in enumerate(per_shape, 1):
            alike.setdefault(columns[name], []).append(index)
        if len(alike) == 1:
            selected.append(alias(next(iter(alike)), name))
            continue
        options = [
            exp.If(this=_shape_is(col(c, "shape"), indexes), true=value)
            for value, indexes in alike.items()
        ]
        selected.append(alias(exp.Case(ifs=options), name))
    recognized = exp.Not(this=exp.Is(this=col(c, "shape"), expression=exp.Null()))
    selected, values = read_attributes_once(selected, c, ctx.dialect)
    if values is not None:
        # the recognized spans' attributes, parsed once for every column that reads them
        inner = (
            with_attribute_values(c, values)
            .from_(subquery(inner, c), copy=False)
            .where(recognized, copy=False)
        )
    query = select(*selected).from_(subquery(inner, c), copy=False)
    for j in joins:
        query = query.join(j, copy=False)
    return query if values is not None else query.where(recognized, copy=False)


def _match_with_job_id(match: Cond, job_id: Value, a: str, ctx: Context) -> list[exp.Expression]:
    """The tests of a shape's ``match``, cheapest first, before its job id's non-empty test.
    A job id read from an attribute the match requires to exist proves that it does (an
    absent key reads as ''): its JSON read is dropped, its cheap text search stays."""
    key = job_id.attribute
    if key is None or key not in match.has_attributes:
        tests = [cond_sql(match, a, ctx)]
    else:
        rest = replace(match, has_attributes=tuple(k for k in match.has_attributes if k != key))
        tests = [cond_sql(rest, a, ctx), ctx.dialect.mentions_key(a, key, exact=False)]
    flat: list[exp.Expression] = []
    for test in tests:
        flat += (
            cast(list[exp.Expression], list(test.flatten()))
            if isinstance(test, exp.And)
            else [test]
        )
    # an empty match is TRUE
    return sorted((t for t in flat if not (isinstance(t, exp.Boolean) and t.this)), key=cost)


def _shape_is(shape: exp.Expression, indexes: list[int]) -> exp.Expression:
    if len(indexes) == 1:
        return eq(shape, lit(indexes[0]))
    return exp.In(this=shape, expressions=[lit(i) for i in indexes])
