"""Profiles → the SQL that derives the narrow tables rules join (docs/design.md, "The store").

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
owners     effect or error span of a trace holding job runs, with the run it belongs to
========== ===============================================================================

Times in derived tables are integer nanoseconds since the epoch (``*_ns``), so rules compare
and add integers. When two profiles claim the same span (the generic messaging profile and
the RQ profile both see an RQ ``publish``), the profile with the lower ``priority`` wins.

This module is the package's entry point: ``compile_profiles`` builds the six statements in
a fixed order over one ``Context`` (aliases are numbered in that order), and the names other
packages use are re-exported here, so callers import from ``auditor.profiles.compiler`` only.
The parts, from the bottom up:

- ``context``: aliases, the span source, and each statement's neighbour sets and nearby CTE
- ``conditions``: a ``Cond`` → a test on one span, cheapest first; child / parent lookups
- ``values``: a ``Value`` (attribute, literal, span field …) and the attempt → an expression
- ``columns``: each table's column names, order and types; columns shared by span tables
- ``classifier``: the one scan that gives each span its shape and computes each column once
- ``job_runs``, ``enqueues``, ``effects``, ``signals``, ``error_spans``, ``owners``: one
  table each (``owners`` reads the tables before it, so it is made last)

Pure: builds sqlglot ASTs, runs nothing (never imports a database driver).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

from auditor.profiles.compiler.columns import (
    EFFECT_COLUMNS,
    ENQUEUE_COLUMNS,
    JOB_RUN_COLUMNS,
    SIGNAL_COLUMNS,
)
from auditor.profiles.compiler.conditions import cond_sql, loosest
from auditor.profiles.compiler.context import SPANS, Context
from auditor.profiles.compiler.effects import effects_sql
from auditor.profiles.compiler.enqueues import enqueues_sql
from auditor.profiles.compiler.error_spans import error_spans_sql
from auditor.profiles.compiler.job_runs import job_runs_sql
from auditor.profiles.compiler.owners import owners_sql
from auditor.profiles.compiler.signals import signals_sql
from auditor.profiles.model import Profile
from auditor.sqlbuild import DUCKDB, Dialect, table

__all__ = [
    "EFFECT_COLUMNS",
    "ENQUEUE_COLUMNS",
    "JOB_RUN_COLUMNS",
    "SIGNAL_COLUMNS",
    "SPANS",
    "Context",
    "DerivedSql",
    "compile_profiles",
    "cond_sql",
    "loosest",
]


@dataclass(frozen=True)
class DerivedSql:
    """The SELECT that fills each derived table."""

    job_runs: exp.Expression
    enqueues: exp.Expression
    effects: exp.Expression
    signals: exp.Expression
    error_spans: exp.Expression
    owners: exp.Expression

    def items(self) -> list[tuple[str, exp.Expression]]:
        return [
            ("job_runs", self.job_runs),
            ("enqueues", self.enqueues),
            ("effects", self.effects),
            ("signals", self.signals),
            ("error_spans", self.error_spans),
            ("owners", self.owners),
        ]


def compile_profiles(
    profiles: Iterable[Profile], dialect: Dialect = DUCKDB, source: exp.Expression | None = None
) -> DerivedSql:
    """The SELECT of each derived table, reading ``source`` (default: the whole span table).
    Each statement carries the CTEs it needs (``Context.attach``), so each runs alone."""
    profiles = list(profiles)
    ctx = Context(dialect, source if source is not None else table(SPANS))
    job_runs = ctx.attach(job_runs_sql(profiles, ctx))
    enqueues = ctx.attach(enqueues_sql(profiles, ctx))
    effects = ctx.attach(effects_sql(profiles, ctx))
    signals = ctx.attach(signals_sql(profiles, ctx))
    error_spans = error_spans_sql(ctx)
    return DerivedSql(job_runs, enqueues, effects, signals, error_spans, owners_sql())
