"""``m``: which effects belong to which run, one function per ``correlate:`` mode.

- ``trace``: the effect is in the run's trace and either carries the run's ``job.id``, or
  carries none and belongs to the run (``e.run_span_id``: the run that is its nearest
  ancestor-or-self among the trace's job runs; with no run above it, the run of its service
  whose time span contains it — ``auditor.ancestry``), so that in a trace of many runs (a
  Celery canvas, a BullMQ flow, a Temporal workflow) an effect is never a sibling's, nor one
  made outside every job (the API handler's); or it carries the run's ``job.id`` and sits in
  a trace with no job run at all (a thread the job started outside its context: its spans are
  roots of new traces);
- ``link``: a span link joins the effect's trace and the run's trace, either direction; and,
  as always, effects in the run's own trace that belong to it (as for ``trace``);
- ``key``: an attribute of the run equals an attribute of the effect (``expect.key``).

With ``declared: true`` an effect belongs to a run's unit only under the name it declared.
Every mode returns rows of the same shape: the run's identity (``j_trace_id``, ``j_span_id``,
``j_expected`` — a *run unit*, what the checks group by — and ``j_outcome``, ``j_job_id``,
``j_system``) and every column of ``e``. ``unit_on`` and ``unit_group`` are how the checks
join and group by a run unit.

Must never filter effects by the rule's selectors: ``e`` already holds only accepted ones.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from auditor.rules.compiler.columns import E_OWNER, e_columns
from auditor.rules.compiler.context import Build
from auditor.rules.model import Correlate
from auditor.sqlbuild import (
    alias,
    and_,
    col,
    eq,
    func,
    in_subquery,
    join,
    lit,
    or_,
    select,
    subquery,
    table,
)
from auditor.tables import EFFECT_KEYS, JOB_KEYS

_M_JOB = ("trace_id", "span_id", "expected", "outcome", "job_id", "system")


def matches(b: Build) -> exp.Expression:
    """``m``: (run, effect) pairs that the rule's correlation joins."""
    expect = b.rule.expect
    assert expect is not None
    return _BY_MODE[expect.correlate](b)


def by_trace(b: Build) -> exp.Expression:
    in_trace = _in_own_trace(b)
    runs_traces = select(col(None, "trace_id")).from_(table("job_runs"), copy=False)
    orphan = _m_select(
        table("j", "j"), [join("inner", table("e", "e"), eq(col("e", "job_id"), col("j", "job_id")))],
        and_(
            exp.NEQ(this=col("e", "job_id"), expression=lit("")),
            exp.Paren(this=or_(eq(col("e", "system"), lit("")), eq(col("e", "system"), col("j", "system")))),
            exp.Not(this=in_subquery([col("e", "trace_id")], runs_traces)),
            _same_name(b),
        ),
    )  # fmt: skip
    return exp.union(in_trace, orphan, distinct=False)


def by_link(b: Build) -> exp.Expression:
    linked_e = select(
        exp.Column(this=exp.Star(), table=exp.to_identifier("x", quoted=True)),
        alias(func("unnest", col("x", "link_trace_ids")), "linked"),
    ).from_(table("e", "x"), copy=False)
    linked_j = select(
        exp.Column(this=exp.Star(), table=exp.to_identifier("y", quoted=True)),
        alias(func("unnest", col("y", "link_trace_ids")), "linked"),
    ).from_(table("j", "y"), copy=False)
    forward = _m_select(
        table("j", "j"), [join("inner", subquery(linked_e, "e"), eq(col("e", "linked"), col("j", "trace_id")))],
        and_(_own_or_unowned(), _same_name(b)),
    )  # fmt: skip
    backward = _m_select(
        subquery(linked_j, "j"), [join("inner", table("e", "e"), eq(col("e", "trace_id"), col("j", "linked")))],
        and_(_own_or_unowned(), _same_name(b)),
    )  # fmt: skip
    # and, as always, the run's effects in its own trace (the job's code runs there)
    own = _in_own_trace(b)
    # the effect columns differ by the extra "linked" column: select the common ones
    return exp.union(
        exp.union(_strip_linked(b, forward), _strip_linked(b, backward), distinct=False),
        _strip_linked(b, own),
        distinct=False,
    )


def by_key(b: Build) -> exp.Expression:
    key = b.rule.expect.key if b.rule.expect is not None else None
    assert key is not None
    job_side, effect_side = _job_side(b, key.job), _effect_side(b, key.effect)
    return _m_select(
        table("j", "j"), [join("inner", table("e", "e"), eq(effect_side, job_side))],
        and_(exp.NEQ(this=effect_side.copy(), expression=lit("")), _same_name(b)),
    )  # fmt: skip


_BY_MODE: dict[Correlate, Callable[[Build], exp.Expression]] = {
    Correlate.TRACE: by_trace,
    Correlate.LINK: by_link,
    Correlate.KEY: by_key,
}


def unit_on(left: str, right: str) -> exp.Expression:
    """Join condition: the row of ``right`` (columns j_trace_id, j_span_id, j_expected)
    belongs to the run unit ``left`` (a ``j`` row)."""
    return and_(
        eq(col(right, "j_trace_id"), col(left, "trace_id")),
        eq(col(right, "j_span_id"), col(left, "span_id")),
        eq(col(right, "j_expected"), col(left, "expected")),
    )


def unit_group(query: exp.Select, *extra: exp.Expression) -> exp.Select:
    """``query`` grouped by run unit (and ``extra``)."""
    return query.group_by(
        col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"), *extra, copy=False
    )


def _same_name(b: Build) -> exp.Expression | None:
    """With declared effects, the effect is the one the run's unit expects."""
    return eq(col("e", "effect_name"), col("j", "expected")) if b.declared else None


def _in_own_trace(b: Build) -> exp.Select:
    """(run, effect) pairs of one trace where the effect is the run's: it carries the run's
    job id, or none and belongs to the run by the trace's structure (``run_span_id``)."""
    mine = or_(
        and_(exp.NEQ(this=col("e", "job_id"), expression=lit("")), eq(col("e", "job_id"), col("j", "job_id"))),
        and_(eq(col("e", "job_id"), lit("")), eq(col("e", E_OWNER), col("j", "span_id"))),
    )  # fmt: skip
    return _m_select(
        table("j", "j"),
        [join("inner", table("e", "e"), eq(col("e", "trace_id"), col("j", "trace_id")))],
        and_(exp.Paren(this=mine), _same_name(b)),
    )


def _own_or_unowned() -> exp.Expression:
    """The effect names no job, or the run's job."""
    return exp.Paren(
        this=or_(eq(col("e", "job_id"), lit("")), eq(col("e", "job_id"), col("j", "job_id")))
    )


def _job_side(b: Build, key: str) -> exp.Expression:
    column = JOB_KEYS.get(key)
    return col("j", column) if column else b.d.attr("j", key, "attributes")


def _effect_side(b: Build, key: str) -> exp.Expression:
    column = EFFECT_KEYS.get(key)
    return col("e", column) if column else b.d.attr("e", key, "attributes")


def _m_select(from_: exp.Expression, joins: list[exp.Join], where: exp.Expression) -> exp.Select:
    cols = [alias(col("j", c), f"j_{c}") for c in _M_JOB]
    query = select(
        *cols, exp.Column(this=exp.Star(), table=exp.to_identifier("e", quoted=True))
    ).from_(from_, copy=False)
    for j in joins:
        query = query.join(j, copy=False)
    return query.where(where, copy=False)


def _strip_linked(b: Build, query: exp.Select) -> exp.Select:
    """Replace ``e.*`` with the effect columns (the link subquery adds ``linked``)."""
    expressions = [
        x
        for x in query.expressions
        if not (isinstance(x, exp.Column) and isinstance(x.this, exp.Star))
    ]
    expressions += [col("e", c) for c in (*e_columns(b), E_OWNER)]
    query.set("expressions", expressions)
    return query
