"""Which job run a span belongs to when several runs share its trace: ``nearest_runs``.

A Celery canvas, a BullMQ flow and a Temporal workflow put many job runs in one trace, next
to spans that belong to no job at all (the API handler that started the chain). A span of
such a trace — a confirmation, a span that failed — belongs to:

1. the job run that is its nearest ancestor-or-self among job runs, following
   ``ParentSpanId`` within the trace (at most ``MAX_DEPTH`` steps up);
2. with no job run above it, the run of the same service in its trace whose time span
   contains the span's start (the latest-started one when runs nest in time: a span the job
   started outside its context, a thread, still happened inside the run);
3. else no run: never a sibling's, never every run of the trace.

Both compilers use this one query: ``profiles.compiler`` for the ``owners`` table (effects
and error spans, derived once per evaluation), ``rules.compiler`` for the spans a rule's
``expect.span`` selects. The walk starts only from the given spans in traces that hold a job
run, and stops at the first run, so it costs one lookup per step between a span and its run
(one, for a confirmation made directly under its run), not a pass over every trace.

Pure: builds a sqlglot AST; reads the derived ``job_runs`` and the span table by name.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.sqlbuild import alias, and_, col, eq, join, lit, select, subquery, table

SPANS = "otel_traces"
MAX_DEPTH = 64  # parent steps; a deeper chain (or a cycle in bad input) stops there
OWNER_COLUMNS = ("trace_id", "span_id", "run_span_id")


def nearest_runs(starts: exp.Expression) -> exp.Select:
    """Rows ``(trace_id, span_id, run_span_id)``: the run each span of ``starts`` (a table or
    query with ``trace_id``, ``span_id``, ``parent_span_id``, ``service``, ``start_ns``) belongs to, for those
    that belong to one. A span listed twice in ``starts`` gets one row."""
    runs = (
        select(*[col(None, c) for c in ("trace_id", "span_id", "service", "start_ns", "end_ns")])
        .from_(table("job_runs"), copy=False)
        .distinct()
    )
    run_traces = select(col(None, "trace_id")).from_(table("o_runs"), copy=False)
    spans = (
        select(
            *[col("s", c) for c in ("trace_id", "span_id", "parent_span_id", "service", "start_ns")]
        )
        .from_(_aliased(starts, "s"), copy=False)
        .where(exp.In(this=col("s", "trace_id"), query=exp.Subquery(this=run_traces)), copy=False)
        .distinct()
    )
    at_run = and_(eq(col("r", "trace_id"), col("w", "trace_id")), eq(col("r", "span_id"), col("w", "at_id")))  # fmt: skip
    # the walk starts at the span itself when it is a run, else at its parent: a span made
    # directly under its run (most confirmations) needs no lookup in the span table
    is_run = and_(eq(col("r", "trace_id"), col("w", "trace_id")), eq(col("r", "span_id"), col("w", "span_id")))  # fmt: skip
    itself = (
        select(col("w", "trace_id"), col("w", "span_id"), alias(col("w", "span_id"), "at_id"),
               alias(lit(0), "depth"))
        .from_(table("o_spans", "w"), copy=False)
        .join(join("semi", table("o_runs", "r"), is_run), copy=False)
    )  # fmt: skip
    parent = (
        select(col("w", "trace_id"), col("w", "span_id"), alias(col("w", "parent_span_id"), "at_id"),
               alias(lit(1), "depth"))
        .from_(table("o_spans", "w"), copy=False)
        .join(join("anti", table("o_runs", "r"), is_run.copy()), copy=False)
        .where(exp.NEQ(this=col("w", "parent_span_id"), expression=lit("")), copy=False)
    )  # fmt: skip
    base = exp.union(itself, parent, distinct=False)
    step = (
        select(
            col("w", "trace_id"), col("w", "span_id"), alias(col("p", "ParentSpanId"), "at_id"),
            alias(exp.Add(this=col("w", "depth"), expression=lit(1)), "depth"),
        )
        .from_(table("o_walk", "w"), copy=False)
        .join(join("anti", table("o_runs", "r"), at_run), copy=False)
        .join(join("inner", table(SPANS, "p"), and_(
            eq(col("p", "TraceId"), col("w", "trace_id")), eq(col("p", "SpanId"), col("w", "at_id")),
        )), copy=False)
        .where(and_(
            exp.LT(this=col("w", "depth"), expression=lit(MAX_DEPTH)),
            exp.NEQ(this=col("p", "ParentSpanId"), expression=lit("")),
        ), copy=False)
    )  # fmt: skip
    above = (
        select(
            col("w", "trace_id"), col("w", "span_id"),
            alias(exp.ArgMin(this=col("w", "at_id"), expression=col("w", "depth")), "run_span_id"),
        )
        .from_(table("o_walk", "w"), copy=False)
        .join(join("semi", table("o_runs", "r"), at_run.copy()), copy=False)
        .group_by(col("w", "trace_id"), col("w", "span_id"), copy=False)
    )  # fmt: skip
    # no run above it: the run of its service whose time span contains its start
    latest_first = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("s", "trace_id"), col("s", "span_id")],
        order=exp.Order(expressions=[
            exp.Ordered(this=col("r", "start_ns"), desc=True), exp.Ordered(this=col("r", "span_id")),
        ]),
    )  # fmt: skip
    inside = (
        select(col("s", "trace_id"), col("s", "span_id"), alias(col("r", "span_id"), "run_span_id"))
        .from_(table("o_spans", "s"), copy=False)
        .join(join("inner", table("o_runs", "r"), and_(
            eq(col("r", "trace_id"), col("s", "trace_id")),
            eq(col("r", "service"), col("s", "service")),
            exp.Between(this=col("s", "start_ns"), low=col("r", "start_ns"), high=col("r", "end_ns")),
        )), copy=False)
        .join(join("anti", table("o_above", "a"), and_(
            eq(col("a", "trace_id"), col("s", "trace_id")), eq(col("a", "span_id"), col("s", "span_id")),
        )), copy=False)
        .qualify(eq(latest_first, lit(1)), copy=False)
    )  # fmt: skip
    under = select(*[col(None, c) for c in OWNER_COLUMNS]).from_(table("o_above"), copy=False)
    both = exp.union(under, inside, distinct=False)
    out = select(*[col(None, c) for c in OWNER_COLUMNS]).from_(subquery(both, "o"), copy=False)
    out = out.with_("o_runs", as_=runs, materialized=True, copy=False)
    out = out.with_("o_spans", as_=spans, materialized=True, copy=False)
    out = out.with_("o_walk", as_=exp.union(base, step, distinct=False), copy=False)
    out = out.with_("o_above", as_=above, materialized=True, copy=False)
    out.args["with_"].set("recursive", True)
    return out


def _aliased(source: exp.Expression, as_: str) -> exp.Expression:
    if isinstance(source, exp.Table):
        source = source.copy()
        source.set("alias", exp.TableAlias(this=exp.to_identifier(as_, quoted=True)))
        return source
    return subquery(source, as_)
