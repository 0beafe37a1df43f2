"""The two tables every check of a rule reads, built once per rule: ``j`` and ``e``.

``j``  the job runs the rule judges (any outcome; checks that judge "done" filter on it),
       each with ``expected``: the effect name it must prove (one row per declared effect
       with ``expect: {declared: true}``, else '');
``e``  the effect spans the rule accepts as proof, in the ``effects`` table's columns: rows
       of ``effects`` (the ``effect:`` shorthand, a glob on the effect name) or spans of
       ``otel_traces`` chosen by ``expect.span``; and ``run_span_id``, the run the effect
       belongs to in its trace ('' for none): the ``owners`` table's for rows of
       ``effects``, the same query (``auditor.ancestry``) over the spans a selector chose.

Owns both queries. ``e`` is also what rules accepting the same effects share
(``effects_key``): its text must depend only on the effect side of the rule.

Must never join ``j`` and ``e``: that is the correlation's (``correlate``).
"""

from __future__ import annotations

from sqlglot import exp

from auditor.ancestry import nearest_runs
from auditor.rules.compiler.columns import E_OWNER, e_columns, j_columns
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.selectors import selected, span_filter
from auditor.sqlbuild import (
    alias,
    and_,
    col,
    eq,
    func,
    join,
    lit,
    select,
    select_reading_attributes_once,
    span_columns,
    subquery,
    table,
)


def job_runs(b: Build) -> exp.Select:
    """``j``: the runs the rule judges, with ``expected`` = the effect name each must prove."""
    a = "r"
    declared: list[exp.Expression] = []
    if b.declared:
        listed = col(a, "expected_effects")
        names = exp.Case(
            ifs=[exp.If(this=func("starts_with", listed, lit("[")),
                        true=func("from_json", listed, lit('["VARCHAR"]')))],
            default=func("string_split", listed, lit(",")),
        )  # fmt: skip
        expected = func("trim", func("unnest", names))
        declared.append(exp.NEQ(this=listed.copy(), expression=lit("")))
    else:
        expected = lit("")
    query = select(*[col(a, c) for c in j_columns(b)], alias(expected, "expected")).from_(
        table("job_runs", a), copy=False
    )
    return selected(query, b, a, *declared)


def effects(b: Build) -> exp.Select:
    """``e``: the effect spans this rule accepts, in the ``effects`` table's columns."""
    expect = b.rule.expect
    assert expect is not None
    if expect.span is None:
        a = "f"
        query = select(*[col(a, c) for c in e_columns(b)], _owner()).from_(
            table("effects", a), copy=False
        )
        query = query.join(join("left", table("owners", "o"), _same_span("o", a)), copy=False)
        if b.declared:
            return query
        return query.where(b.text_match(col(a, "effect_name"), expect.effect or ""), copy=False)
    a = "s"
    d = b.d
    key_attr = expect.key.effect if expect.key is not None else "side_effect.key"
    columns = {
        **span_columns(a, d),
        "effect_name": col(a, "SpanName"),
        "effect_key": d.attr(a, key_attr if key_attr not in ("job.id",) else "side_effect.key"),
        "job_id": d.attr(a, "job.id"),
        "system": d.attr(a, "job.system"),
        "ok": exp.NEQ(this=col(a, "StatusCode"), expression=lit("Error")),
        "status_message": col(a, "StatusMessage"),
    }
    chosen = select_reading_attributes_once(
        [alias(columns[k], k) for k in (*e_columns(b), "parent_span_id")],  # (for the walk)
        a,
        table("otel_traces", a),
        span_filter(b, expect.span, a),
        d,
    )
    x = "x"
    return (
        select(*[col(x, c) for c in e_columns(b)], _owner())
        .from_(table("chosen", x), copy=False)
        .join(
            join("left", subquery(nearest_runs(table("chosen")), "o"), _same_span("o", x)),
            copy=False,
        )
        .with_("chosen", as_=chosen, materialized=True, copy=False)
    )


def _owner() -> exp.Expression:
    """``run_span_id``: the run the effect belongs to, '' for none (read from ``o``)."""
    return alias(exp.Coalesce(this=col("o", "run_span_id"), expressions=[lit("")]), E_OWNER)


def _same_span(a: str, b: str) -> exp.Expression:
    return and_(
        eq(col(a, "trace_id"), col(b, "trace_id")), eq(col(a, "span_id"), col(b, "span_id"))
    )
