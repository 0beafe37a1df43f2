"""``at_most_once``: ok effects in ``m`` grouped by name and key, confirmed by more than one
span → ``duplicate_effect``, one row per (effect name, key). Retries included: ``j`` holds
every attempt, so a key confirmed by attempt 1 and again by attempt 2 repeats. The row names
every job that confirmed the key (``job_id`` joined by ",") and ``detail_ns`` is how many
spans did.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.checks.rows import null, span_ref
from auditor.rules.compiler.context import Build
from auditor.sqlbuild import alias, and_, col, in_subquery, lit, select, subquery, table


def at_most_once(b: Build) -> exp.Select:
    """One row per (effect name, key) confirmed by more than one span. The keys that repeat
    are found first with plain aggregates (two spans differ when the least and greatest
    span id do): the DISTINCT aggregates of the result, each a hash table of its own, then
    see only their spans, not every confirmation of the rule."""
    distinct_spans = exp.Count(this=exp.Distinct(expressions=[col(None, "span_id")]))

    def keyed(*more: exp.Expression) -> exp.Expression:
        ok = col(None, "ok")
        return and_(ok, exp.NEQ(this=col(None, "effect_key"), expression=lit("")), *more)

    names = (col(None, "effect_name"), col(None, "effect_key"))
    repeated = in_subquery(
        [c.copy() for c in names],
        select(*names)
        .from_(table("m"), copy=False)
        .where(keyed(), copy=False)
        .group_by(*[c.copy() for c in names], copy=False)
        .having(
            exp.NEQ(
                this=exp.Min(this=col(None, "span_id")),
                expression=exp.Max(this=col(None, "span_id")),
            ),
            copy=False,
        ),
    )
    return (
        select(
            alias(exp.Min(this=col(None, "j_system")), "system"),
            alias(b.d.string_agg_distinct(col(None, "j_job_id")), "job_id"),
            alias(lit(""), "job_name"), alias(lit(""), "queue"),
            alias(null("BIGINT"), "attempt"), alias(null("BIGINT"), "done_ns"),
            alias(exp.Min(this=col(None, "start_ns")), "start_ns"),
            alias(exp.Max(this=col(None, "end_ns")), "end_ns"),
            alias(exp.Min(this=col(None, "trace_id")), "trace_id"),
            alias(lit(""), "span_id"), alias(exp.Min(this=col(None, "service")), "service"),
            alias(lit(""), "signals"),
            alias(col(None, "effect_name"), "effect_name"), alias(col(None, "effect_key"), "effect_key"),
            alias(b.d.list_agg_distinct(span_ref("d")), "related"),
            alias(distinct_spans, "detail_ns"), alias(lit(""), "note"),
        )
        .from_(subquery(
            select(exp.Star()).from_(table("m")).where(keyed(repeated), copy=False),
            "d",
        ))
        .group_by(col(None, "effect_name"), col(None, "effect_key"), copy=False)
    )  # fmt: skip
