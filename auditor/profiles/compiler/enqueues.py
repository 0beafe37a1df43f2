"""The SELECT that derives ``enqueues``: one row per producer span that put a job on a queue.

Owns how an enqueue shape computes each column (the job's system, id, name and queue, and
when it was enqueued: the span's start). Called by ``compile_profiles``; the classifying scan
is ``classifier``'s, so a span two profiles see as an enqueue is one row, of the profile
with the lower ``priority``.

Must never look at other spans: an enqueue is known from its own span.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.classifier import classified
from auditor.profiles.compiler.columns import (
    ENQUEUE_COLUMNS,
    ENQUEUE_TYPES,
    common_span_columns,
    empty,
)
from auditor.profiles.compiler.context import Context
from auditor.profiles.compiler.values import system_sql, value_sql
from auditor.profiles.model import EnqueueShape, Profile
from auditor.sqlbuild import col, lit


def enqueues_sql(profiles: list[Profile], ctx: Context) -> exp.Expression:
    enqueues = classified(
        profiles,
        lambda p: p.enqueues,
        lambda p, shape, a, joins: _enqueue_columns(shape, p, a, ctx),
        ENQUEUE_COLUMNS,
        ctx,
    )
    return empty(ENQUEUE_TYPES) if enqueues is None else enqueues


def _enqueue_columns(
    shape: EnqueueShape, profile: Profile, a: str, ctx: Context
) -> dict[str, exp.Expression]:
    return {
        **common_span_columns(a, ctx),
        "system": system_sql(shape.system, profile, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "job_name": value_sql(shape.job_name, a, ctx),
        "queue": value_sql(shape.queue, a, ctx),
        "enqueued_ns": ctx.dialect.epoch_ns(col(a, "Timestamp")),
        "profile": lit(profile.id),
    }
