"""The SELECT that derives ``owners``: the job run each effect and error span belongs to, in
a trace that holds job runs (``auditor.ancestry``: nearest ancestor-or-self among runs, else
the run of its service whose time span contains it, else none).

Reads the tables made before it in the same derive (``job_runs``, ``effects``,
``error_spans``) and the span table (for the parent chain), so it is compiled last. Called by
``compile_profiles``.

Must never depend on profiles: which run a span belongs to is a fact of the trace.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.ancestry import nearest_runs
from auditor.sqlbuild import col, select, table

_STARTS = ("trace_id", "span_id", "parent_span_id", "service", "start_ns")


def owners_sql() -> exp.Expression:
    starts = exp.union(
        select(*[col(None, c) for c in _STARTS]).from_(table("effects"), copy=False),
        select(*[col(None, c) for c in _STARTS]).from_(table("error_spans"), copy=False),
        distinct=False,
    )
    return nearest_runs(starts)
