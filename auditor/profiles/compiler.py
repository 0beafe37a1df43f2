"""Profiles → the SQL that derives the narrow tables rules join (DESIGN.md, "The store").

========== ===============================================================================
table      one row per
========== ===============================================================================
job_runs   execution attempt of a job: system, job_id, job_name, queue, attempt, outcome
           (done | failed | retry | unknown), done_ns, start/end, trace/span ids, service,
           the run span's attributes, declared expected effects, signals (redelivered …)
enqueues   producer span that put a job on a queue
effects    confirmation of a side effect (the probes' ``side_effect.confirm`` convention)
signals    fact reported about a job by id outside its trace (BullMQ's ``job stalled``)
error_spans span that ended in error (for ``effect_ok``: a failure the job swallowed)
========== ===============================================================================

Times in derived tables are integer nanoseconds since the epoch (``*_ns``), so rules compare
and add integers. When two profiles claim the same span (the generic messaging profile and
the RQ profile both see an RQ ``publish``), the profile with the lower ``priority`` wins.
Pure: builds sqlglot ASTs, runs nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, cast

from sqlglot import exp

from auditor.profiles.model import (
    Attempt,
    Cond,
    DoneAt,
    EffectShape,
    EnqueueShape,
    Profile,
    RunShape,
    SignalShape,
    Value,
)
from auditor.sqlbuild import (
    DUCKDB,
    Dialect,
    alias,
    and_,
    col,
    eq,
    func,
    ident,
    in_subquery,
    is_glob,
    join,
    lit,
    or_,
    read_attributes_once,
    select,
    select_reading_attributes_once,
    subquery,
    table,
    with_attribute_values,
)

SPANS = "otel_traces"
NEARBY = "nearby"  # the CTE of the spans that neighbour sets and child lookups read

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


@dataclass
class _Ctx:
    dialect: Dialect
    source: exp.Expression  # the span table (or a window of it)
    aliases: count = field(default_factory=lambda: count(1))

    # neighbour sets (the spans whose child / parent satisfies a condition) of the statement
    # being built, each computed once however many conditions ask for it: (kind, cond) ->
    # (CTE name, its query)
    neighbours: dict[tuple[str, Cond], tuple[str, exp.Expression]] = field(default_factory=dict)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"

    def neighbour_set(self, kind: str, cond: Cond, build: Callable[[], exp.Expression]) -> str:
        key = (kind, cond)
        if key not in self.neighbours:
            self.neighbours[key] = (self.alias("n"), build())
        return self.neighbours[key][0]

    # The neighbour sets and child lookups of the statement read the spans near a job from
    # one scan of the source, narrowed by the loosest form of their conditions, instead of
    # one scan each: the aliases they read it under, and those conditions (on NEARBY).
    nearby_aliases: list[str] = field(default_factory=list)
    nearby_filters: dict[exp.Expression, None] = field(default_factory=dict)

    def nearby(self, as_: str, loosest: exp.Expression) -> exp.Expression:
        """The statement's nearby spans, aliased ``as_``, for a lookup that needs only spans
        satisfying ``loosest`` (a condition on ``as_``)."""
        self.nearby_aliases.append(as_)
        self.nearby_filters[_realias(loosest, as_, NEARBY)] = None
        return table(NEARBY, as_)

    def attach(self, query: exp.Expression) -> exp.Expression:
        """Give ``query`` the nearby spans and the neighbour sets it refers to, as CTEs, and
        start a new statement."""
        sets = [sub for _, sub in self.neighbours.values()]
        if self.nearby_aliases:
            readers = set(self.nearby_aliases)
            used = sorted(
                {c.name for tree in (query, *sets) for c in tree.find_all(exp.Column)
                 if c.table in readers}
            )  # fmt: skip
            spans = (
                select(*[col(NEARBY, c) for c in used])
                .from_(self.spans(NEARBY), copy=False)
                .where(or_(*self.nearby_filters), copy=False)
            )
            query = query.with_(NEARBY, as_=spans, materialized=True, copy=False)  # type: ignore[attr-defined]
        for name, sub in self.neighbours.values():
            query = query.with_(name, as_=sub, materialized=True, copy=False)  # type: ignore[attr-defined]
        self.neighbours = {}
        self.nearby_aliases = []
        self.nearby_filters = {}
        return query

    def spans(self, as_: str) -> exp.Expression:
        source = self.source.copy()
        if isinstance(source, exp.Table):
            source.set("alias", exp.TableAlias(this=exp.to_identifier(as_, quoted=True)))
            return source
        return subquery(source, as_)


# ----------------------------------------------------------------------------- conditions


def _glob_or_eq(ctx: _Ctx, value: exp.Expression, pattern: str) -> exp.Expression:
    if is_glob(pattern):
        return ctx.dialect.glob(value, lit(pattern))
    return eq(value, lit(pattern))


def cond_sql(c: Cond, a: str, ctx: _Ctx) -> exp.Expression:
    """The condition ``c`` on the span aliased ``a``."""
    d = ctx.dialect
    parts: list[exp.Expression] = []
    if c.name:
        parts.append(or_(*(_glob_or_eq(ctx, col(a, "SpanName"), n) for n in c.name)))
    if c.kind:
        parts.append(exp.In(this=col(a, "SpanKind"), expressions=[lit(k) for k in c.kind]))
    if c.status:
        parts.append(eq(col(a, "StatusCode"), lit(c.status)))
    if c.scope:
        parts.append(_glob_or_eq(ctx, col(a, "ScopeName"), c.scope))
    if c.service:
        parts.append(_glob_or_eq(ctx, col(a, "ServiceName"), c.service))
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
    return and_(*sorted(parts, key=_cost))


def _cost(condition: exp.Expression) -> int:
    """0: column comparisons; 1: a text search in the attributes; 2: JSON parsing;
    3: a subquery."""
    cost = 0
    for node in condition.walk():
        if isinstance(node, exp.Select):
            return 3
        if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):
            cost = 2
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "contains":
            cost = max(cost, 1)
    return cost


def _related(c: Cond, relation: str, a: str, ctx: _Ctx) -> exp.Expression:
    """Span ``a`` has a child (``relation="child"``) or a parent satisfying ``c``: an IN over
    the statement's neighbour set for ``c``, computed once however often it is asked for."""
    # child: the (trace, parent id) of spans satisfying c; parent: their (trace, span id)
    their, ours = ("ParentSpanId", "SpanId") if relation == "child" else ("SpanId", "ParentSpanId")

    def neighbours() -> exp.Expression:
        inner = ctx.alias(relation[0])
        return (
            select(alias(col(inner, "TraceId"), "t"), alias(col(inner, their), "s"))
            .from_(ctx.nearby(inner, cond_sql(_loosest(c), inner, ctx)), copy=False)
            .where(cond_sql(c, inner, ctx), copy=False)
        )

    name = ctx.neighbour_set(relation, c, neighbours)
    return in_subquery([col(a, "TraceId"), col(a, ours)], select("t", "s").from_(name))


def _loosest(c: Cond) -> Cond:
    """``c`` without its tests on other spans (child, parent): true of every span ``c`` is
    true of, and testable on the span alone."""

    def relational(x: Cond) -> bool:
        return (
            x.child is not None
            or x.parent is not None
            or any(relational(y) for y in x.any)
            or (x.not_ is not None and relational(x.not_))
        )

    options = tuple(_loosest(x) for x in c.any)
    return replace(
        c,
        child=None,
        parent=None,
        any=() if Cond() in options else options,
        not_=None if c.not_ is None or relational(c.not_) else c.not_,
    )


def _realias(condition: exp.Expression, old: str, new: str) -> exp.Expression:
    out = condition.copy()
    for column in out.find_all(exp.Column):
        if column.table == old:
            column.set("table", ident(new))
    return out


# ----------------------------------------------------------------------------- values


def value_sql(v: Value, a: str, ctx: _Ctx) -> exp.Expression:
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


def _attempt_sql(attempt: Attempt, a: str, ctx: _Ctx) -> exp.Expression:
    if attempt.sequence or attempt.attribute is None:
        return exp.cast(exp.Null(), "BIGINT", copy=False)
    number = exp.TryCast(
        this=exp.Nullif(this=ctx.dialect.attr(a, attempt.attribute), expression=lit("")),
        to=exp.DataType.build("BIGINT"),
    )
    # NULL when absent: the job_runs query then numbers the job's runs by start time.
    return exp.Add(this=number, expression=lit(attempt.offset)) if attempt.offset else number


# ----------------------------------------------------------------------------- shapes


def _system(shape_system: Value | None, profile: Profile, a: str, ctx: _Ctx) -> exp.Expression:
    return lit(profile.id) if shape_system is None else value_sql(shape_system, a, ctx)


def _child_min(
    ctx: _Ctx,
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


def _done_at_sql(
    candidates: Iterable[DoneAt], a: str, ctx: _Ctx, joins: list[exp.Join]
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
            where = _glob_or_eq(ctx, col(inner, "SpanName"), c.child_start)
            options.append(
                _child_min(ctx, a, joins, where, d.epoch_ns(col(inner, "Timestamp")), inner)
            )
        elif c.child_end is not None:
            inner = ctx.alias("c")
            where = _glob_or_eq(ctx, col(inner, "SpanName"), c.child_end)
            options.append(_child_min(ctx, a, joins, where, d.end_ns(inner), inner))
    options.append(d.end_ns(a))  # no explicit marker: the run span's end
    return (
        exp.Coalesce(this=options[0], expressions=options[1:]) if len(options) > 1 else options[0]
    )


def _common_span_columns(a: str, ctx: _Ctx) -> dict[str, exp.Expression]:
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


def _select(
    columns: dict[str, exp.Expression], order: tuple[str, ...], extra: tuple[str, ...] = ()
) -> list[exp.Expression]:
    return [alias(columns[name], name) for name in (*order, *extra)]


def _run_columns(
    shape: RunShape, profile: Profile, a: str, ctx: _Ctx, joins: list[exp.Join]
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
        **_common_span_columns(a, ctx),
        "system": _system(shape.system, profile, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "job_name": value_sql(shape.job_name, a, ctx),
        "queue": value_sql(shape.queue, a, ctx),
        "attempt": _attempt_sql(shape.attempt, a, ctx),
        "outcome": outcome,
        "done_ns": _done_at_sql(shape.done_at, a, ctx, joins),
        "status": col(a, "StatusCode"),
        "expected_effects": ctx.dialect.attr(a, shape.expected_effects),
        "signals": signals,
        "profile": lit(profile.id),
    }


def _enqueue_columns(
    shape: EnqueueShape, profile: Profile, a: str, ctx: _Ctx
) -> dict[str, exp.Expression]:
    return {
        **_common_span_columns(a, ctx),
        "system": _system(shape.system, profile, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "job_name": value_sql(shape.job_name, a, ctx),
        "queue": value_sql(shape.queue, a, ctx),
        "enqueued_ns": ctx.dialect.epoch_ns(col(a, "Timestamp")),
        "profile": lit(profile.id),
    }


# the span columns a classified span carries (every condition and value reads only these)
SPAN_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
    "ScopeName", "ResourceAttributes", "SpanAttributes", "Duration", "StatusCode",
    "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId",
    "BatchId",
)  # fmt: skip


def _classified(
    shapes: list[tuple[Profile, RunShape | EnqueueShape]],
    columns_of: Callable[
        [Profile, RunShape | EnqueueShape, str, list[exp.Join]], dict[str, exp.Expression]
    ],
    names: tuple[str, ...],
    ctx: _Ctx,
) -> exp.Select:
    """One pass over the spans: each span takes the first shape it matches, in priority
    order (a span two profiles recognize belongs to the more specific one), then every column
    is the expression of its shape. One scan instead of one per shape, and no ranking
    window for the priority."""
    a = ctx.alias("s")
    ifs = []
    common: set[exp.Expression] | None = None  # column tests every shape makes
    for index, (_, shape) in enumerate(shapes, 1):
        job_id = value_sql(shape.job_id, a, ctx)
        match = _match_with_job_id(shape.match, shape.job_id, a, ctx)
        tests = {c for c in match if _cost(c) == 0}
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


def _match_with_job_id(match: Cond, job_id: Value, a: str, ctx: _Ctx) -> list[exp.Expression]:
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
    return sorted((t for t in flat if not (isinstance(t, exp.Boolean) and t.this)), key=_cost)


def _shape_is(shape: exp.Expression, indexes: list[int]) -> exp.Expression:
    if len(indexes) == 1:
        return eq(shape, lit(indexes[0]))
    return exp.In(this=shape, expressions=[lit(i) for i in indexes])


def _by_priority(profiles: list[Profile], kind: str) -> list[tuple[Profile, Any]]:
    ordered = sorted(profiles, key=lambda p: (p.priority, p.id))
    return [(p, shape) for p in ordered for shape in getattr(p, kind)]


def effect_sql(shape: EffectShape, ctx: _Ctx) -> exp.Select:
    a = ctx.alias("s")
    failed = (
        cond_sql(shape.error_when, a, ctx)
        if shape.error_when
        else eq(col(a, "StatusCode"), lit("Error"))
    )
    columns = {
        **_common_span_columns(a, ctx),
        "effect_name": value_sql(shape.effect_name, a, ctx),
        "effect_key": value_sql(shape.effect_key, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "system": value_sql(shape.system, a, ctx),
        "ok": exp.Not(this=exp.Paren(this=failed)),
        "status_message": col(a, "StatusMessage"),
    }
    return select_reading_attributes_once(
        _select(columns, EFFECT_COLUMNS),
        a,
        ctx.spans(a),
        cond_sql(shape.match, a, ctx),
        ctx.dialect,
    )


def signal_sql(shape: SignalShape, profile: Profile, ctx: _Ctx) -> exp.Select:
    """One row per event ``shape.event`` on matching spans (DuckDB: parallel ``unnest``)."""
    a = ctx.alias("s")
    events = (
        select(
            alias(_system(shape.system, profile, a, ctx), "system"),
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


def _union(selects: list[exp.Select]) -> exp.Expression | None:
    if not selects:
        return None
    query: exp.Expression = selects[0]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False)
    return query


def _empty(columns: dict[str, str]) -> exp.Select:
    return select(*[alias(exp.cast(exp.Null(), t), n) for n, t in columns.items()]).where(
        exp.false(), copy=False
    )


_JOB_RUN_TYPES = {
    "system": "VARCHAR", "job_id": "VARCHAR", "job_name": "VARCHAR", "queue": "VARCHAR",
    "attempt": "BIGINT", "outcome": "VARCHAR", "done_ns": "BIGINT", "start_ns": "BIGINT",
    "end_ns": "BIGINT", "trace_id": "VARCHAR", "span_id": "VARCHAR", "parent_span_id": "VARCHAR",
    "service": "VARCHAR", "span_name": "VARCHAR", "status": "VARCHAR", "attributes": "JSON",
    "expected_effects": "VARCHAR", "signals": "VARCHAR", "link_trace_ids": "VARCHAR[]",
    "batch_id": "UBIGINT", "profile": "VARCHAR",
}  # fmt: skip
_ENQUEUE_TYPES = {k: _JOB_RUN_TYPES.get(k, "BIGINT") for k in ENQUEUE_COLUMNS}
_EFFECT_TYPES = {
    k: ("BOOLEAN" if k == "ok" else _JOB_RUN_TYPES.get(k, "VARCHAR")) for k in EFFECT_COLUMNS
}
_SIGNAL_TYPES = {k: ("BIGINT" if k == "at_ns" else "VARCHAR") for k in SIGNAL_COLUMNS}


@dataclass(frozen=True)
class DerivedSql:
    """The SELECT that fills each derived table."""

    job_runs: exp.Expression
    enqueues: exp.Expression
    effects: exp.Expression
    signals: exp.Expression
    error_spans: exp.Expression

    def items(self) -> list[tuple[str, exp.Expression]]:
        return [
            ("job_runs", self.job_runs),
            ("enqueues", self.enqueues),
            ("effects", self.effects),
            ("signals", self.signals),
            ("error_spans", self.error_spans),
        ]


def compile_profiles(
    profiles: Iterable[Profile], dialect: Dialect = DUCKDB, source: exp.Expression | None = None
) -> DerivedSql:
    profiles = list(profiles)
    ctx = _Ctx(dialect, source if source is not None else table(SPANS))

    run_shapes = _by_priority(profiles, "runs")
    if not run_shapes:
        job_runs: exp.Expression = _empty(_JOB_RUN_TYPES)
    else:
        classified = _classified(
            run_shapes,
            lambda p, shape, a, joins: _run_columns(shape, p, a, ctx, joins),  # type: ignore[arg-type]
            JOB_RUN_COLUMNS,
            ctx,
        )
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
        job_runs = select(
            *[
                alias(exp.Coalesce(this=col(q, "attempt"), expressions=[sequence]), "attempt")
                if c == "attempt"
                else col(q, c)
                for c in JOB_RUN_COLUMNS
            ]
        ).from_(subquery(classified, q), copy=False)
    job_runs = ctx.attach(job_runs)

    enqueue_shapes = _by_priority(profiles, "enqueues")
    enqueues: exp.Expression = (
        _classified(
            enqueue_shapes,
            lambda p, shape, a, joins: _enqueue_columns(shape, p, a, ctx),  # type: ignore[arg-type]
            ENQUEUE_COLUMNS,
            ctx,
        )
        if enqueue_shapes
        else _empty(_ENQUEUE_TYPES)
    )
    enqueues = ctx.attach(enqueues)
    eff = _union([effect_sql(s, ctx) for p in profiles for s in p.effects])
    effects = ctx.attach(_empty(_EFFECT_TYPES) if eff is None else eff)
    sig = _union([signal_sql(s, p, ctx) for p in profiles for s in p.signals])
    signals = ctx.attach(_empty(_SIGNAL_TYPES) if sig is None else sig)

    a = ctx.alias("s")
    error_spans = (
        select(
            alias(col(a, "TraceId"), "trace_id"),
            alias(col(a, "SpanId"), "span_id"),
            alias(col(a, "ParentSpanId"), "parent_span_id"),
            alias(col(a, "SpanName"), "span_name"),
            alias(dialect.epoch_ns(col(a, "Timestamp")), "start_ns"),
            alias(dialect.end_ns(a), "end_ns"),
            alias(dialect.attr(a, "job.id"), "job_id"),
            alias(col(a, "StatusMessage"), "status_message"),
            alias(col(a, "ServiceName"), "service"),
        )
        .from_(ctx.spans(a), copy=False)
        .where(eq(col(a, "StatusCode"), lit("Error")), copy=False)
    )
    return DerivedSql(job_runs, enqueues, effects, signals, error_spans)
