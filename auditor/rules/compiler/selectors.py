"""The rule's selectors as conditions: which job runs (or enqueues) it judges, which spans
prove its effect.

Owns ``selected`` (a query over ``job_runs`` or ``enqueues`` narrowed by ``jobs:``),
``job_filter`` and ``jobs_where`` (its parts), and ``span_filter`` (``expect.span`` on a span
of ``otel_traces``). Values written in the rule are bound parameters (``Build.bind``); a
``where:`` is the author's own SQL, checked by ``rules.where`` before it gets here.

``jobs.where`` names columns of the job's row (``job_runs``, or ``enqueues`` for
``complete_within``) and of its span (``otel_traces``): every column it names without a
table is qualified with the one it belongs to. A condition on the row alone filters the
row; one that reads the span joins the row's span (same TraceId and SpanId) in a SEMI JOIN
whose ON holds the condition: nothing is correlated, so DuckDB and ClickHouse both run it.
A where naming a column the judged rows lack (``attempt`` with ``complete_within``) never
gets here: the rule loader rejects it (``rules.build``). ``expect.span.where`` reads only the
candidate effect span, the one table of its query, and is spliced in as written.

Must never read a table other than the row's own and its span.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.context import Build
from auditor.rules.model import JobSelector, SpanSelector
from auditor.rules.where import parse_where, qualified
from auditor.sqlbuild import and_, col, eq, join, lit, table
from auditor.tables import ENQUEUES, JOB_KEYS, JOB_RUNS

SPANS = "otel_traces"  # a jobs.where reads the run's (or enqueue's) span here

_KINDS = {k: k.capitalize() for k in ("internal", "server", "client", "producer", "consumer")}
_STATUS = {"ok": "Ok", "error": "Error", "unset": "Unset"}


def jobs_where(
    where: str, a: str, *, enqueues: bool
) -> tuple[exp.Expression | None, exp.Join | None]:
    """The rule's ``jobs.where`` on row ``a`` of ``job_runs`` (or ``enqueues``): a column of
    that table reads the row, any other column the row's own span in otel_traces. Returns
    the condition for the row's WHERE when it reads only the row, else a SEMI JOIN of the
    row's span on (TraceId, SpanId) whose ON holds it: never a subquery correlated with the
    row (the where names both; DuckDB cannot run a correlated multi-column IN, and
    ClickHouse runs no correlated subquery)."""
    columns = ENQUEUES.names if enqueues else JOB_RUNS.names
    condition = qualified(parse_where(where), lambda name: a if name in columns else SPANS)
    if not any(c.table == SPANS for c in condition.find_all(exp.Column)):
        return condition, None
    on = and_(
        eq(col(SPANS, "TraceId"), col(a, "trace_id")),
        eq(col(SPANS, "SpanId"), col(a, "span_id")),
        condition,
    )
    return None, join("semi", table(SPANS), on)


def job_filter(
    b: Build, jobs: JobSelector, a: str, *, enqueues: bool = False
) -> tuple[exp.Expression, exp.Join | None]:
    """The job selector on a ``job_runs`` row (or an ``enqueues`` row, which has no attempt):
    the row's condition, and the join its ``where:`` needs when it reads the row's span."""
    parts: list[exp.Expression | None] = []
    if jobs.system:
        parts.append(b.text_match(col(a, "system"), jobs.system))
    if jobs.name:
        parts.append(b.text_match(col(a, "job_name"), jobs.name))
    if jobs.queue:
        parts.append(b.text_match(col(a, "queue"), jobs.queue))
    for key, value in jobs.attributes:
        column = JOB_KEYS.get(key)
        if enqueues and column == "attempt":
            column = None
        read = col(a, column) if column else b.d.attr(a, key, "attributes")
        if column == "attempt":
            read = exp.cast(read, "VARCHAR", copy=False)
        parts.append(eq(read, b.bind(value)))
    spans = None
    if jobs.where:
        condition, spans = jobs_where(jobs.where, a, enqueues=enqueues)
        parts.append(condition)
    return and_(*parts), spans


def selected(
    query: exp.Select, b: Build, a: str, *more: exp.Expression, enqueues: bool = False
) -> exp.Select:
    """``query`` (reading row ``a``) narrowed to the jobs the rule's selector chooses, and to
    the conditions ``more`` before it."""
    condition, spans = job_filter(b, b.rule.jobs, a, enqueues=enqueues)
    if spans is not None:
        query = query.join(spans, copy=False)
    return query.where(and_(*more, condition), copy=False)


def span_filter(b: Build, s: SpanSelector, a: str) -> exp.Expression:
    """The span selector on span ``a`` of otel_traces."""
    parts: list[exp.Expression] = []
    if s.name:
        parts.append(b.text_match(col(a, "SpanName"), s.name))
    if s.kind:
        parts.append(eq(col(a, "SpanKind"), lit(_KINDS[s.kind])))
    if s.status == "ok":  # "ok" means did not fail: instrumentations leave success Unset
        parts.append(exp.NEQ(this=col(a, "StatusCode"), expression=lit("Error")))
    elif s.status:
        parts.append(eq(col(a, "StatusCode"), lit(_STATUS[s.status])))
    for key, value in s.attributes:
        parts.append(eq(b.d.attr(a, key), b.bind(value)))
    if s.where:
        parts.append(parse_where(s.where))
    return and_(*parts)
