"""The jobs a rule judges: (system, job_id, job_name) of each, for reports that list or
count them (JUnit's test cases, the scan summary). A rule that expects an effect judges its
done runs (``j``); one that only has ``complete_within`` judges the enqueues it selects.

``JUDGED`` and ``JUDGED_PADDING`` say how ``CompiledRule.batch`` pads these rows to
``auditor.tables.CHECK_ROW``.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.context import Build
from auditor.rules.compiler.selectors import selected
from auditor.sqlbuild import col, eq, lit, select, table
from auditor.tables import CHECK_ROW

# the judged query's rows, (system, job_id, job_name), are padded to the checks' columns
JUDGED = ("check", "system", "job_id", "job_name")
JUDGED_PADDING = tuple((c, t) for c, t in CHECK_ROW if c not in JUDGED)


def judged(b: Build) -> exp.Select:
    """(system, job_id, job_name) of every job the rule judges; reads ``j`` when it expects
    an effect, the enqueues otherwise."""
    if b.rule.expect is not None:
        query = (
            select(col("j", "system"), col("j", "job_id"), col("j", "job_name"))
            .from_(table("j", "j"), copy=False)
            .where(eq(col("j", "outcome"), lit("done")), copy=False)
        )
    else:
        query = selected(
            select(col("q", "system"), col("q", "job_id"), col("q", "job_name")).from_(
                table("enqueues", "q"), copy=False
            ),
            b,
            "q",
            enqueues=True,
        )
    return query.distinct()
