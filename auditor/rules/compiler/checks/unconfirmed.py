"""``confirmed`` and ``effect_ok``: done runs that nothing confirms.

- ``confirmed``: a done run unit with no ok effect in ``m`` → ``unconfirmed_done``;
- ``effect_ok``: such a unit whose effect failed where it shows — a failed effect in ``m``,
  or, for a specific expected effect, an error span of its trace during the run that is the
  run's (it carries the run's job id, or none and belongs to the run: ``owners``, never a
  sibling's in a trace of many runs) — → ``failed_effect``, which it reports *instead of* ``unconfirmed_done`` when
  the rule checks both (a swallowed failure is one lie, not two).

Owns both queries and the failure set they share (the ``failed`` and ``failures`` CTEs).
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler.checks.rows import empty_list, expected_name, job_result, null, span_ref
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.correlate import unit_group, unit_on
from auditor.rules.model import Check
from auditor.sqlbuild import alias, and_, col, eq, is_glob, join, lit, or_, select, table


def confirmed(b: Build) -> exp.Select:
    return _unconfirmed(b, failed=False)


def effect_ok(b: Build) -> exp.Select:
    return _unconfirmed(b, failed=True)


def _failed_set(b: Build) -> exp.Expression:
    """Per run unit: the spans that show its effect failed (effect spans in error, and —
    for a specific expected effect — error spans of its trace during the run)."""
    failed_effects = select(
        col("m", "j_trace_id"), col("m", "j_span_id"), col("m", "j_expected"),
        alias(span_ref("m"), "ref"), alias(col("m", "span_name"), "name"),
        alias(col("m", "status_message"), "message"), alias(col("m", "effect_key"), "key"),
    ).from_(table("m", "m"), copy=False).where(exp.Not(this=col("m", "ok")), copy=False)  # fmt: skip
    expect = b.rule.expect
    assert expect is not None
    specific = b.declared or expect.span is not None or not is_glob(expect.effect or "")
    if not specific:
        return failed_effects
    x = "x"
    swallowed = select(
        alias(col("j", "trace_id"), "j_trace_id"), alias(col("j", "span_id"), "j_span_id"),
        alias(col("j", "expected"), "j_expected"), alias(span_ref(x), "ref"),
        alias(col(x, "span_name"), "name"), alias(col(x, "status_message"), "message"),
        alias(lit(""), "key"),
    ).from_(table("j", "j"), copy=False).join(
        join("inner", table("error_spans", x), eq(col(x, "trace_id"), col("j", "trace_id")))
    , copy=False).join(
        join("left", table("owners", "o"), and_(
            eq(col("o", "trace_id"), col(x, "trace_id")), eq(col("o", "span_id"), col(x, "span_id")),
        ))
    , copy=False).where(and_(
        eq(col("j", "outcome"), lit("done")),
        exp.NEQ(this=col(x, "span_id"), expression=col("j", "span_id")),
        exp.GTE(this=col(x, "start_ns"), expression=col("j", "start_ns")),
        exp.LTE(this=col(x, "start_ns"), expression=col("j", "end_ns")),
        # the run's: it names the run's job, or none and belongs to the run (owners)
        exp.Paren(this=or_(
            and_(exp.NEQ(this=col(x, "job_id"), expression=lit("")), eq(col(x, "job_id"), col("j", "job_id"))),
            and_(eq(col(x, "job_id"), lit("")), eq(col("o", "run_span_id"), col("j", "span_id"))),
        )),
    ), copy=False)  # fmt: skip
    return exp.union(failed_effects, swallowed, distinct=False)


def _confirmed_units() -> exp.Select:
    return unit_group(
        select(col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"))
        .from_(table("m"), copy=False)
        .where(col(None, "ok"), copy=False)
    )


def _unconfirmed(b: Build, *, failed: bool) -> exp.Select:
    """Done runs with no ok effect; with ``failed`` the ones whose failure shows, otherwise
    (when ``effect_ok`` is also checked) the ones whose failure does not."""
    include_failed_check = Check.EFFECT_OK in b.rule.checks
    f = "f"
    failures = unit_group(
        select(
            col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"),
            alias(b.d.list_agg(col(None, "ref")), "refs"),
            alias(exp.Max(this=col(None, "key")), "key"),
            alias(exp.Min(this=exp.DPipe(this=exp.DPipe(this=col(None, "name"), expression=lit(": ")), expression=col(None, "message"))), "why"),
        ).from_(table("failed"), copy=False)
    )  # fmt: skip
    query = (
        select(*job_result(
            expected_name(b),
            col(f, "key") if failed else lit(""),
            col(f, "refs") if failed else empty_list(),
            null("BIGINT"),
            col(f, "why") if failed else lit(""),
        ))
        .from_(table("j", "j"), copy=False)
        .join(join("anti", table("confirmed", "c"), unit_on("j", "c")), copy=False)
    )  # fmt: skip
    if failed:
        query = query.join(join("inner", table("failures", f), unit_on("j", f)), copy=False)
    elif include_failed_check:
        query = query.join(join("anti", table("failures", f), unit_on("j", f)), copy=False)
    query = query.where(eq(col("j", "outcome"), lit("done")), copy=False)
    query = query.with_("confirmed", as_=_confirmed_units(), copy=False)
    if failed or include_failed_check:
        query = query.with_("failed", as_=_failed_set(b), copy=False)
        query = query.with_("failures", as_=failures, copy=False)
    return query
