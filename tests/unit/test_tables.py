"""``auditor.tables`` is what runs: the derived tables have exactly its columns and types (all
of them, or only the ones that are not optional), a rule's statement returns exactly its row,
and the engine stores those rows in a table of that shape.
"""

from __future__ import annotations

from functools import cache

import duckdb
import pytest

from auditor.engine import evaluate as engine
from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.derive import derive, derived_sql, make_derived
from auditor.rules.compiler import statement_for
from auditor.rules.model import Rule
from auditor.tables import CHECK_ROW, DERIVED, EFFECT_KEYS, EFFECTS, JOB_KEYS, JOB_RUNS, Columns
from tests.unit.engine.scanning import FIXTURES, capture, store_with_spans


@cache
def _catalog() -> Catalog:
    return load_catalog([FIXTURES / "compiler" / "representative.yaml"], packs=True)


def _described(con: duckdb.DuckDBPyConnection, what: str, params: object = None) -> Columns:
    return tuple((row[0], row[1]) for row in con.execute(f"DESCRIBE {what}", params).fetchall())


def test_every_derived_table_has_the_contract_columns_in_order_with_their_types() -> None:
    with store_with_spans(files=[capture("celery")]) as store:
        derive(store.con, _catalog().profiles)
        for table in DERIVED:
            assert _described(store.con, table.name) == table.columns, table.name


def test_a_derive_for_rules_reading_no_optional_column_leaves_out_exactly_the_optional_ones() -> (
    None
):
    with store_with_spans(files=[capture("celery")]) as store:
        make_derived(store.con, derived_sql(tuple(_catalog().profiles), frozenset()))
        for table in DERIVED:
            kept = tuple((c, t) for c, t in table.columns if c not in table.optional)
            assert _described(store.con, table.name) == kept, table.name


@pytest.mark.parametrize("judged", ["none", "count", "rows"])
@pytest.mark.parametrize("rule", _catalog().rules.rules, ids=lambda r: r.id)
def test_a_rule_statement_returns_the_contract_row(rule: Rule, judged: str) -> None:
    with store_with_spans(files=[capture("celery")]) as store:
        derive(store.con, _catalog().profiles)
        sql, params = statement_for(rule, judged=judged)
        assert _described(store.con, f"({sql})", params) == CHECK_ROW


def test_the_engine_stores_rule_rows_in_a_table_of_the_contract_row() -> None:
    con = duckdb.connect()
    con.execute(engine._CANDIDATES)
    assert _described(con, "audit_candidates") == (("rule_idx", "INTEGER"), *CHECK_ROW)


def test_the_names_a_rule_gives_derived_columns_name_columns_of_their_table() -> None:
    assert set(JOB_KEYS.values()) <= set(JOB_RUNS.names)
    assert set(EFFECT_KEYS.values()) <= set(EFFECTS.names)
    for table in DERIVED:
        assert set(table.optional) <= set(table.names), table.name
        assert len(set(table.names)) == len(table.names), table.name
