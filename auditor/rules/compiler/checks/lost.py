"""``complete_within``: an enqueue the rule's selector chooses with no job run of the same
system and id → ``lost_job``. A worker that dies mid-job exports nothing, so an enqueue with
no run is all a crash leaves. The signals reported about the job outside its trace (BullMQ's
``job stalled``) come along as ``signals`` and ``related``. Whether the deadline has passed
is the engine's to judge (``start_ns`` is when the job was enqueued).
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.checks.rows import empty_list, null, span_ref
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.selectors import selected
from auditor.sqlbuild import alias, and_, col, eq, join, lit, select, subquery, table


def complete_within(b: Build) -> exp.Select:
    q = "q"
    signals = (
        select(
            col(None, "system"), col(None, "job_id"),
            alias(b.d.string_agg_distinct(col(None, "signal")), "names"),
            alias(b.d.list_agg(span_ref("g")), "refs"),
        )
        .from_(table("signals", "g"), copy=False)
        .group_by(col(None, "system"), col(None, "job_id"), copy=False)
    )  # fmt: skip
    runs = select(col(None, "system"), col(None, "job_id")).from_(table("job_runs"), copy=False)
    query = (
        select(
            *[alias(col(q, c), c) for c in ("system", "job_id", "job_name", "queue")],
            alias(null("BIGINT"), "attempt"), alias(null("BIGINT"), "done_ns"),
            alias(col(q, "enqueued_ns"), "start_ns"), alias(col(q, "enqueued_ns"), "end_ns"),
            alias(col(q, "trace_id"), "trace_id"), alias(col(q, "span_id"), "span_id"),
            alias(col(q, "service"), "service"),
            alias(exp.Coalesce(this=col("g", "names"), expressions=[lit("")]), "signals"),
            alias(lit(""), "effect_name"), alias(lit(""), "effect_key"),
            alias(exp.Coalesce(this=col("g", "refs"), expressions=[empty_list()]), "related"),
            alias(null("BIGINT"), "detail_ns"), alias(lit(""), "note"),
        )
        .from_(table("enqueues", q), copy=False)
        .join(join("anti", subquery(runs, "r"), and_(eq(col("r", "system"), col(q, "system")), eq(col("r", "job_id"), col(q, "job_id")))), copy=False)
        .join(join("left", subquery(signals, "g"), and_(eq(col("g", "system"), col(q, "system")), eq(col("g", "job_id"), col(q, "job_id")))), copy=False)
    )  # fmt: skip
    return selected(query, b, q, enqueues=True)
