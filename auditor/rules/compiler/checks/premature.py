"""``before_done``: a done run whose first ok effect ended after it was marked done
(``done_ns``) plus the rule's tolerance → ``premature_done``. A run confirmed in time and
again later is honest here (its repeat is ``at_most_once``'s). ``detail_ns`` is how late.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.checks.rows import expected_name, job_result, span_ref
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.correlate import unit_group, unit_on
from auditor.sqlbuild import alias, and_, col, eq, join, lit, select, table


def before_done(b: Build) -> exp.Select:
    expect = b.rule.expect
    assert expect is not None
    tolerance_ns = round(expect.tolerance_s * 1e9)
    first = unit_group(
        select(
            col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"),
            alias(exp.Min(this=col(None, "end_ns")), "first_end"),
            alias(exp.ArgMin(this=span_ref("m"), expression=col(None, "end_ns")), "ref"),
            alias(exp.ArgMin(this=col(None, "effect_key"), expression=col(None, "end_ns")), "key"),
        ).from_(table("m", "m"), copy=False).where(col(None, "ok"), copy=False)
    )  # fmt: skip
    gap = exp.Sub(this=col("f", "first_end"), expression=col("j", "done_ns"))
    return (
        select(*job_result(
            expected_name(b), col("f", "key"), exp.Array(expressions=[col("f", "ref")]), gap, lit(""),
        ))
        .from_(table("j", "j"), copy=False)
        .join(join("inner", table("first_ok", "f"), unit_on("j", "f")), copy=False)
        .where(and_(
            eq(col("j", "outcome"), lit("done")),
            exp.GT(this=col("f", "first_end"), expression=exp.Add(this=col("j", "done_ns"), expression=b.bind(tolerance_ns))),
        ), copy=False)
        .with_("first_ok", as_=first, copy=False)
    )  # fmt: skip
