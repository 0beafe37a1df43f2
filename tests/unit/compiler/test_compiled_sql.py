"""The SQL rules compile to, pinned as golden files, and proof that rule values never reach
the SQL text.

Goldens (``tests/data/golden/sql/``): for every built-in pack rule and every rule of
``tests/data/fixtures/compiler/representative.yaml`` (each correlation, span selectors,
``where:``, declared effects, ``complete_within``), the statement the engine runs for the rule
(``statement_for``: every check at once, and the number of jobs the rule judged), pretty, with
its bound parameters; and the SQL deriving the narrow tables from the built-in profiles. Rewrite them with ``AUDITOR_UPDATE_GOLDENS=1`` and review
the diff: it is a change in what every user's rules run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import sqlglot

from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.derive import derive
from auditor.profiles.compiler import compile_profiles
from auditor.rules.compiler import compile_rule, effects_key, statement_for
from auditor.rules.loader import load_rule_text
from auditor.rules.model import Rule, RuleSet
from auditor.sqlbuild import DUCKDB
from tests.unit.engine.scanning import FIXTURES, capture, store_with_spans
from tests.unit.reports.golden import assert_golden

REPRESENTATIVE = FIXTURES / "compiler" / "representative.yaml"


@cache
def _catalog() -> Catalog:
    return load_catalog([REPRESENTATIVE])


def _pack_rules() -> list[Rule]:
    return [r for r in _catalog().rules.rules if _catalog().is_builtin(r)]


def _representative_rules() -> list[Rule]:
    return [r for r in _catalog().rules.rules if not _catalog().is_builtin(r)]


def _judged(rule: Rule) -> str:
    """What the engine's statement adds for the judged jobs in ``audit scan``: their count,
    for every rule (only ``--format junit`` lists them)."""
    return "count"


def render(rule: Rule) -> str:
    """What a golden holds: the rule's statement, pretty, and its parameters."""
    sql, params = statement_for(rule, judged=_judged(rule), pretty=True)
    return f"-- rule {rule.id}\n-- params {json.dumps(params, sort_keys=True)}\n{sql};\n"


def test_there_are_built_in_pack_rules_and_representative_rules_to_pin() -> None:
    assert len(_pack_rules()) >= 10
    assert {r.id for r in _representative_rules()} >= {
        "by-trace", "by-link", "by-key-default", "by-key-explicit", "span-selector",
        "with-where", "declared-effects", "complete-within",
    }  # fmt: skip


@pytest.mark.parametrize("rule_id", [r.id for r in _pack_rules()])
def test_a_built_in_pack_rule_compiles_to_its_golden_sql(rule_id: str) -> None:
    rule = _catalog().rules.get(rule_id)
    assert rule is not None
    assert_golden(f"sql/packs/{rule_id}.sql", render(rule))


@pytest.mark.parametrize("rule_id", [r.id for r in _representative_rules()])
def test_a_representative_rule_compiles_to_its_golden_sql(rule_id: str) -> None:
    rule = _catalog().rules.get(rule_id)
    assert rule is not None
    assert_golden(f"sql/rules/{rule_id}.sql", render(rule))


@pytest.mark.parametrize("rule", _catalog().rules.rules, ids=lambda r: r.id)
def test_the_pretty_statement_is_the_statement_the_engine_runs(rule: Rule) -> None:
    """Goldens and ``audit rules explain`` print the statement pretty; laid out on lines, it
    parses to the same tree as the one-line text the engine executes."""
    executed, params = statement_for(rule, judged=_judged(rule))
    pretty, pretty_params = statement_for(rule, judged=_judged(rule), pretty=True)
    assert pretty != executed
    assert sqlglot.parse_one(pretty, read="duckdb") == sqlglot.parse_one(executed, read="duckdb")
    assert pretty_params == params


def test_the_built_in_profiles_derive_their_tables_with_the_golden_sql() -> None:
    text = "".join(
        f"-- derived table {name}\n{DUCKDB.render(query)};\n\n"
        for name, query in compile_profiles(_catalog().profiles).items()
    )
    assert_golden("sql/derived-tables.sql", text)


# ------------------------------------------------------------------------- values are params


def _values(rule: Rule) -> Iterator[str]:
    """Every value an author wrote that a query compares against."""
    jobs = rule.jobs
    yield from (v for v in (jobs.system, jobs.name, jobs.queue) if v)
    yield from (value for _, value in jobs.attributes)
    if rule.expect is not None:
        if rule.expect.effect:
            yield rule.expect.effect
        span = rule.expect.span
        if span is not None:
            if span.name:
                yield span.name
            yield from (value for _, value in span.attributes)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.mark.parametrize("rule_id", [r.id for r in [*_representative_rules(), *_pack_rules()]])
def test_no_value_written_in_a_rule_appears_in_its_sql_only_in_its_parameters(
    rule_id: str,
) -> None:
    rule = _catalog().rules.get(rule_id)
    assert rule is not None
    sql, params = statement_for(rule, judged=_judged(rule))

    for value in _values(rule):
        assert _literal(value) not in sql, value
    assert set(_values(rule)) <= set(params.values())


# ------------------------------------------------------------------------- hostile values


def _hostile_rules() -> RuleSet:
    text = """\
rules:
  - id: hostile-jobs
    severity: high
    jobs:
      name: "'; DROP TABLE otel_traces; --"
      attributes: {note: "O'Brien \\"quoted\\" '); DELETE FROM job_runs; --"}
    expect:
      effect: "it's'); DROP TABLE effects; --"
  - id: hostile-keys
    severity: high
    jobs:
      attributes: {"o'key\\"'); DROP TABLE otel_traces; --": "v"}
    expect:
      effect: email.sent
      correlate: key
      key: {job: "a'b); DELETE FROM job_runs; --", effect: "c\\"d"}
  - id: hostile-lost
    severity: high
    jobs: {system: "celery' OR '1'='1"}
    complete_within: 1m
"""
    return load_rule_text(text, "hostile.yaml")


def test_hostile_rule_values_are_bound_parameters_and_the_queries_still_run() -> None:
    rules = _hostile_rules()
    catalog = load_catalog([], packs=False)
    with store_with_spans(files=[capture("celery")]) as store:
        derive(store.con, catalog.profiles)
        spans_before = store.span_count()
        for rule in rules:
            sql, params = statement_for(rule, judged="rows")
            for value in _values(rule):
                assert _literal(value) not in sql
            rows: list[Any] = store.con.execute(sql, params).fetchall()
            # the values match nothing: no job is named like that, and a quote in a value
            # does not turn "system = '...'" into "OR '1'='1'"
            assert rows == [], rule.id
            assert set(_values(rule)) <= set(params.values())
        assert store.span_count() == spans_before
        for table in ("otel_traces", "job_runs", "effects"):
            assert store.con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0] > 0


@pytest.mark.parametrize("rule", _catalog().rules.rules, ids=lambda r: r.id)
def test_the_effects_key_the_engine_groups_rules_by_is_the_compiled_rules_own(rule: Rule) -> None:
    """The engine compiles only a rule's effect side to decide which rules share one effects
    table; it must be exactly what the whole rule compiles its ``e`` to."""
    assert effects_key(rule) == compile_rule(rule).shared_key("e")
    if rule.expect is not None and "confirmed" in rule.checks:
        assert effects_key(rule) is not None
