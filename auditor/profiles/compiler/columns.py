"""The derived tables' columns: their names and order, their types, and the pieces every
table builder shares.

Reads ``JOB_RUN_COLUMNS``, ``ENQUEUE_COLUMNS``, ``EFFECT_COLUMNS`` and ``SIGNAL_COLUMNS`` (the
order of each SELECT) and each column's SQL type (used only for the typed empty table a
catalog without such shapes derives) from ``auditor.tables``, the contract the rule compiler
and ``engine.derive`` read too. Owns the columns any table taken from one span shares
(times, ids, service, attributes …) and the UNION ALL of one table's per-shape SELECTs.
Called by the table builders; the name lists are re-exported by ``auditor.profiles.compiler``.

Must never compute a column that depends on a shape: that belongs to the table's builder.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.context import Context
from auditor.sqlbuild import alias, select, span_columns
from auditor.tables import EFFECTS, ENQUEUES, JOB_RUNS, SIGNALS

# The contract of each table (auditor.tables), under the names the builders use.
JOB_RUN_COLUMNS = JOB_RUNS.names
ENQUEUE_COLUMNS = ENQUEUES.names
EFFECT_COLUMNS = EFFECTS.names
SIGNAL_COLUMNS = SIGNALS.names
JOB_RUN_TYPES = JOB_RUNS.types
ENQUEUE_TYPES = ENQUEUES.types
EFFECT_TYPES = EFFECTS.types
SIGNAL_TYPES = SIGNALS.types


def common_span_columns(a: str, ctx: Context) -> dict[str, exp.Expression]:
    return span_columns(a, ctx.dialect)


def union_all(selects: list[exp.Select]) -> exp.Expression | None:
    if not selects:
        return None
    query: exp.Expression = selects[0]
    for s in selects[1:]:
        query = exp.union(query, s, distinct=False)
    return query


def empty(columns: dict[str, str]) -> exp.Select:
    """A table with these columns and types and no rows."""
    return select(*[alias(exp.cast(exp.Null(), t), n) for n, t in columns.items()]).where(
        exp.false(), copy=False
    )
