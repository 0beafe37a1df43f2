"""Rules → one SQL statement per rule (every check at once), built as sqlglot ASTs over the
derived tables (their columns: ``auditor.tables``) and, for ``span:`` selectors and
``where:``, ``otel_traces``. Values written in rule files are bound parameters (``$p1`` …);
identifiers and JSON paths are quoted AST nodes. Pure: nothing here touches a database.

Every job-centred check reads the same three tables, built once per rule:

``j``  the job runs the rule judges (``shared``),
``e``  the effect spans the rule accepts as proof (``shared``),
``m``  which effects belong to which run, by the rule's correlation (``correlate``).

The checks (docs/design.md, "Finding kinds"; one module each under ``checks``):

- ``confirmed``: a done run with no ok effect in ``m``  → ``unconfirmed_done``;
- ``effect_ok``: such a run that has a failed effect in ``m``, or an error span of its own
  during its run (``owners``: never a sibling's), keeps that failure as ``failed_effect``
  instead;
- ``before_done``: a done run whose first ok effect ends after ``done_ns`` + tolerance
  → ``premature_done`` (a run that had any confirmation by then is honest);
- ``at_most_once``: ok effects in ``m`` grouped by name and key, more than one span
  → ``duplicate_effect`` (retries included: ``j`` holds every attempt);
- ``complete_within``: an enqueue with no job run of the same system and id → ``lost_job``.

This module is the package's entry point, and callers import from it only:
``compile_rule`` builds a rule's tables and checks in a fixed order over one ``Build`` (so
its parameters are numbered the same every time); ``statement_for`` is the statement the
engine runs for it (``audit rules explain`` and the golden SQL print the same one). The
parts, from the bottom up:

- ``context``: ``Build``, the rule, the dialect and the values bound so far
- ``selectors``: ``jobs:`` on runs and enqueues (``where:`` included), ``expect.span``
- ``columns``: the columns ``j`` and ``e`` carry; the optional columns a rule reads
- ``shared``: ``j`` and ``e``;  ``correlate``: ``m``, one function per ``correlate:`` mode
- ``checks``: one builder per ``Check`` (``checks.BUILDERS``), and the judged jobs
- ``batch``: ``CompiledRule.batch``, one statement per rule; effects tables shared by rules
"""

from __future__ import annotations

from sqlglot import exp

from auditor.rules.compiler import checks
from auditor.rules.compiler.batch import (
    CompiledCheck,
    CompiledRule,
    EffectsKey,
    effects_key,
    params_in,
    shared_effect_tables,
)
from auditor.rules.compiler.columns import optional_columns
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.correlate import matches
from auditor.rules.compiler.shared import effects, job_runs
from auditor.rules.model import Check, Rule
from auditor.sqlbuild import DUCKDB, Dialect

__all__ = [
    "CompiledCheck",
    "CompiledRule",
    "EffectsKey",
    "compile_rule",
    "effects_key",
    "optional_columns",
    "params_in",
    "shared_effect_tables",
    "statement_for",
]


def compile_rule(rule: Rule, dialect: Dialect = DUCKDB) -> CompiledRule:
    """The shared tables ``j``, ``e``, ``m`` (``common``) and each check's query over them
    (``CompiledCheck.body``), which ``CompiledRule.batch`` makes one statement of."""
    b = Build(rule, dialect)
    common: list[tuple[str, exp.Expression]] = []
    if rule.expect is not None:
        common.append(("j", job_runs(b)))
        if any(c is not Check.COMPLETE_WITHIN for c in rule.checks):
            common += [("e", effects(b)), ("m", matches(b))]
    compiled = tuple(
        CompiledCheck(check, checks.BUILDERS[check](b), b.params.values) for check in rule.checks
    )
    judged = CompiledCheck("judged", checks.judged(b), b.params.values)
    return CompiledRule(rule, compiled, judged, tuple(common), b.params.values)


def statement_for(
    rule: Rule,
    *,
    judged: str = "count",
    tables: dict[str, str] | None = None,
    dialect: Dialect = DUCKDB,
    pretty: bool = False,
) -> tuple[str, dict[str, object]]:
    """The statement the engine runs for ``rule`` (``CompiledRule.batch``) as text, with its
    parameters. The engine executes it with ``pretty=False``; ``audit rules explain`` and the
    golden tests print it pretty, the same statement laid out on lines."""
    query, params = compile_rule(rule, dialect).batch(judged=judged, consume=True, tables=tables)
    return dialect.render(query, pretty=pretty, consume=True), params
