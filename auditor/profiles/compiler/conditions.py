"""A profile's condition tree (``Cond``: a ``match``, an outcome's ``when``) as a SQL test on
one span.

Owns ``cond_sql`` (each field of ``Cond`` → a test, the tests ordered cheapest first by
``cost``), how attributes are tested (a cheap text search for the key before the JSON read
that decides), and the tests on other spans: ``child`` and ``parent`` become an IN over a
neighbour set registered with the ``Context``, read from the nearby spans narrowed by the
condition's ``loosest`` form. Called by the classifier and by every table builder.

Must never change what a condition is true of for the sake of speed: the key search and the
loosest form may only let through more spans than the exact test, which always follows.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.profiles.model import Cond
from auditor.sqlbuild import alias, and_, col, eq, in_subquery, is_glob, lit, or_, select


def glob_or_eq(ctx: Context, value: exp.Expression, pattern: str) -> exp.Expression:
    if is_glob(pattern):
        return ctx.dialect.glob(value, lit(pattern))
    return eq(value, lit(pattern))


def cond_sql(c: Cond, a: str, ctx: Context) -> exp.Expression:
    """The condition ``c`` on the span aliased ``a``."""
    d = ctx.dialect
    parts: list[exp.Expression] = []
    if c.name:
        parts.append(or_(*(glob_or_eq(ctx, col(a, "SpanName"), n) for n in c.name)))
    if c.kind:
        parts.append(exp.In(this=col(a, "SpanKind"), expressions=[lit(k) for k in c.kind]))
    if c.status:
        parts.append(eq(col(a, "StatusCode"), lit(c.status)))
    if c.scope:
        parts.append(glob_or_eq(ctx, col(a, "ScopeName"), c.scope))
    if c.service:
        parts.append(glob_or_eq(ctx, col(a, "ServiceName"), c.service))
    # A cheap test for the key first: DuckDB then parses the JSON of few spans. It can be
    # the loose one when the value test after it fails for an absent key (read as '').
    for key, values in c.attributes:
        read = d.attr(a, key)
        parts.append(d.mentions_key(a, key, exact="" in values))
        if len(values) == 1:
            parts.append(eq(read, lit(values[0])))
        else:
            parts.append(exp.In(this=read, expressions=[lit(v) for v in values]))
    for key, pattern in c.attributes_like:
        parts.append(d.mentions_key(a, key, exact=fnmatch.fnmatchcase("", pattern)))
        parts.append(d.glob(d.attr(a, key), lit(pattern)))
    for key in c.has_attributes:
        parts.append(d.mentions_key(a, key, exact=False))
        parts.append(d.has_attr(a, key))  # exact: the key might be inside a nested map
    for key in c.lacks_attributes:
        parts.append(exp.Not(this=d.has_attr(a, key)))
    if c.event:
        parts.append(d.has_event(a, lit(c.event)))
    if c.child is not None:  # some span whose parent is this one satisfies c.child
        parts.append(_related(c.child, "child", a, ctx))
    if c.parent is not None:  # this span's parent satisfies c.parent
        parts.append(_related(c.parent, "parent", a, ctx))
    if c.any:
        parts.append(exp.Paren(this=or_(*(cond_sql(x, a, ctx) for x in c.any))))
    if c.not_ is not None:
        parts.append(exp.Not(this=exp.Paren(this=cond_sql(c.not_, a, ctx))))
    # Cheapest tests first: a span that fails one is not tested further, so few spans get
    # their attributes parsed or looked up in a neighbour set (sorted() keeps the key test
    # before its read).
    return and_(*sorted(parts, key=cost))


def cost(condition: exp.Expression) -> int:
    """0: column comparisons; 1: a text search in the attributes; 2: JSON parsing;
    3: a subquery."""
    worst = 0
    for node in condition.walk():
        if isinstance(node, exp.Select):
            return 3
        if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):
            worst = 2
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "contains":
            worst = max(worst, 1)
    return worst


def _related(c: Cond, relation: str, a: str, ctx: Context) -> exp.Expression:
    """Span ``a`` has a child (``relation="child"``) or a parent satisfying ``c``: an IN over
    the statement's neighbour set for ``c``, computed once however often it is asked for."""
    # child: the (trace, parent id) of spans satisfying c; parent: their (trace, span id)
    their, ours = ("ParentSpanId", "SpanId") if relation == "child" else ("SpanId", "ParentSpanId")

    def neighbours() -> exp.Expression:
        inner = ctx.alias(relation[0])
        return (
            select(alias(col(inner, "TraceId"), "t"), alias(col(inner, their), "s"))
            .from_(ctx.nearby(inner, cond_sql(loosest(c), inner, ctx)), copy=False)
            .where(cond_sql(c, inner, ctx), copy=False)
        )

    name = ctx.neighbour_set(relation, c, neighbours)
    return in_subquery([col(a, "TraceId"), col(a, ours)], select("t", "s").from_(name))


def loosest(c: Cond) -> Cond:
    """``c`` without its tests on other spans (child, parent): true of every span ``c`` is
    true of, and testable on the span alone."""

    def relational(x: Cond) -> bool:
        return (
            x.child is not None
            or x.parent is not None
            or any(relational(y) for y in x.any)
            or (x.not_ is not None and relational(x.not_))
        )

    options = tuple(loosest(x) for x in c.any)
    return replace(
        c,
        child=None,
        parent=None,
        any=() if Cond() in options else options,
        not_=None if c.not_ is None or relational(c.not_) else c.not_,
    )
