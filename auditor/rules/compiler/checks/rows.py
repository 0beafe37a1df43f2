"""The row every check returns, and the pieces its columns are made of.

Each check's query returns the columns of ``auditor.tables.CHECK_ROW`` but ``check`` (which
``CompiledRule.batch`` adds): a run's own columns from ``j`` (``job_result``), then what the
check found. Owns those columns and the small expressions several checks share: the effect
name a unit expects, a span's ``trace_id/span_id`` reference, an empty list, a typed NULL.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.context import Build
from auditor.sqlbuild import alias, col, lit

# the columns of CHECK_ROW a job-centred check takes from its run (j)
_RUN = ("system", "job_id", "job_name", "queue", "attempt", "done_ns", "start_ns", "end_ns",
        "trace_id", "span_id", "service", "signals")  # fmt: skip


def job_result(
    effect_name: exp.Expression,
    effect_key: exp.Expression,
    related: exp.Expression,
    detail: exp.Expression,
    note: exp.Expression,
) -> list[exp.Expression]:
    """The row of a check about run ``j``: the run, then what was found."""
    base = [alias(col("j", c), c) for c in _RUN]
    return [*base, alias(effect_name, "effect_name"), alias(effect_key, "effect_key"),
            alias(related, "related"), alias(detail, "detail_ns"), alias(note, "note")]  # fmt: skip


def expected_name(b: Build) -> exp.Expression:
    """The effect a run unit must prove, as the finding names it."""
    expect = b.rule.expect
    assert expect is not None
    if b.declared:
        return col("j", "expected")
    if expect.span is not None:
        return b.bind(expect.span.name or "")
    return b.bind(expect.effect or "")


def empty_list() -> exp.Expression:
    return exp.cast(exp.Array(expressions=[]), "VARCHAR[]", copy=False)


def null(sql_type: str) -> exp.Expression:
    return exp.cast(exp.Null(), sql_type, copy=False)


def span_ref(a: str, trace: str = "trace_id", span: str = "span_id") -> exp.Expression:
    """``trace_id/span_id`` of row ``a``: how a check's row points at a span."""
    return exp.DPipe(
        this=exp.DPipe(this=col(a, trace), expression=lit("/")), expression=col(a, span)
    )
