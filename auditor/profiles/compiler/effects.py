"""The SELECT that derives ``effects``: one row per span confirming a side effect (the
probes' ``side_effect.confirm`` convention, or a profile's own effect shapes).

Owns how an effect shape computes each column, ``ok`` above all: not failed, where failed is
the shape's ``error_when`` or, by default, an error status. Called by ``compile_profiles``.
Unlike runs and enqueues, effect shapes are not classified: each reads the spans it matches
and the table is their UNION ALL, so a span two shapes match is two confirmations.

Must never drop or merge a confirmation: repeated and failed ones are what rules look for.
"""

from __future__ import annotations

from sqlglot import exp

from auditor.profiles.compiler.columns import (
    EFFECT_COLUMNS,
    EFFECT_TYPES,
    common_span_columns,
    empty,
    union_all,
)
from auditor.profiles.compiler.conditions import cond_sql
from auditor.profiles.compiler.context import Context
from auditor.profiles.compiler.values import value_sql
from auditor.profiles.model import EffectShape, Profile
from auditor.sqlbuild import alias, col, eq, lit, select_reading_attributes_once


def effects_sql(profiles: list[Profile], ctx: Context) -> exp.Expression:
    eff = union_all([effect_sql(s, ctx) for p in profiles for s in p.effects])
    return empty(EFFECT_TYPES) if eff is None else eff


def effect_sql(shape: EffectShape, ctx: Context) -> exp.Select:
    a = ctx.alias("s")
    failed = (
        cond_sql(shape.error_when, a, ctx)
        if shape.error_when
        else eq(col(a, "StatusCode"), lit("Error"))
    )
    columns = {
        **common_span_columns(a, ctx),
        "effect_name": value_sql(shape.effect_name, a, ctx),
        "effect_key": value_sql(shape.effect_key, a, ctx),
        "job_id": value_sql(shape.job_id, a, ctx),
        "system": value_sql(shape.system, a, ctx),
        "ok": exp.Not(this=exp.Paren(this=failed)),
        "status_message": col(a, "StatusMessage"),
    }
    return select_reading_attributes_once(
        [alias(columns[name], name) for name in EFFECT_COLUMNS],
        a,
        ctx.spans(a),
        cond_sql(shape.match, a, ctx),
        ctx.dialect,
    )
