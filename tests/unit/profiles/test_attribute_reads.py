"""How the derived tables read span attributes: every column of a recognized span reads its
attributes from one parse of the map, and the text search that spares parsing other spans
leaves out the key's opening quote only where the exact test after it still decides.

Both are speed-ups that must not change a single derived row, so the tables are compared
with the reads as they were (one JSON read per column, the quoted needle everywhere).
"""

from __future__ import annotations

from typing import Any

import pytest

from auditor.engine.catalog import load_catalog
from auditor.engine.derive import derive
from auditor.profiles.compiler import Context, compile_profiles, cond_sql
from auditor.profiles.model import Cond
from auditor.rules.compiler import compile_rule, params_in
from auditor.rules.loader import load_rule_text
from auditor.sqlbuild import DUCKDB, Dialect, table
from auditor.store.duck import DuckStore
from tests.unit.engine.scanning import capture, derived, store_with_spans

TABLES = ("job_runs", "enqueues", "effects", "signals", "error_spans")


class _ReadPerColumn(Dialect):
    """The reads before the speed-ups: a JSON parse per attribute a column reads, and the
    key's full JSON spelling as the needle."""

    def attrs(self, table_alias: str | None, keys: list[str], column: str = "SpanAttributes"):  # type: ignore[no-untyped-def]
        return None

    def mentions_key(  # type: ignore[no-untyped-def]
        self, table_alias, key, column="SpanAttributes", exact=True
    ):
        return super().mentions_key(table_alias, key, column, exact=True)


def _tables(store: DuckStore, dialect: Dialect) -> dict[str, list[tuple[Any, ...]]]:
    profiles = load_catalog([], packs=False).profiles
    out = {}
    for name, query in compile_profiles(profiles, dialect).items():
        # made as the engine makes them: owners reads the tables made before it
        store.con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{name}" AS {dialect.render(query, pretty=False)}'
        )
        rows = store.con.execute(f'SELECT * FROM "{name}"').fetchall()
        out[name] = sorted(rows, key=repr)
    return out


# Job runs whose attributes are not all strings: numbers, booleans, a JSON null, a nested map
# holding a key of the same name, text that needs escaping; and spans with keys that merely
# end like the probes' keys, and one whose job.id is a JSON null: neither is a job run.
_ODD_SPANS: list[dict[str, Any]] = [
    {"trace": "t1", "span": "run-1", "name": "work", "kind": "consumer", "start": "0s",
     "end": "1s", "attributes": {"job.system": "dramatiq", "job.id": 17, "job.name": "mail",
                                 "job.attempt": 2, "job.queue": True,
                                 "job.expected_effects": "email.sent,sms.sent",
                                 "job.outcome": "done"}},
    {"trace": "t2", "span": "run-2", "name": "work", "kind": "consumer", "start": "0s",
     "end": "1s", "attributes": {"job.system": "arq", "job.id": "a\"b\\c", "job.name": "naïve",
                                 "job.queue": None, "nested": {"job.id": "inner"}}},
    {"trace": "t3", "span": "not-a-run", "name": "work", "kind": "internal", "start": "0s",
     "end": "1s", "attributes": {"xjob.system": "x", "myjob.id": "1", "thejob.name": "n"}},
    {"trace": "t3", "span": "confirm", "parent": "not-a-run", "name": "side_effect.confirm",
     "kind": "internal", "start": "0s", "end": "1s",
     "attributes": {"side_effect.name": "email.sent", "side_effect.key": 5, "job.id": 17,
                    "job.system": "dramatiq", "side_effect.status": "ok"}},
    {"trace": "t5", "span": "null-id", "name": "work", "kind": "consumer", "start": "0s",
     "end": "1s", "attributes": {"job.system": "arq", "job.id": None, "job.name": "mail"}},
    {"trace": "t4", "span": "rq-like", "name": "consume default", "kind": "consumer",
     "start": "0s", "end": "1s", "attributes": {"not.rq.job.id": "r1"}},
]  # fmt: skip


@pytest.mark.parametrize("system", ["celery", "rq", "bullmq", None])
def test_the_derived_tables_are_the_same_whether_attributes_are_parsed_once_or_per_column(
    system: str | None,
) -> None:
    with (
        store_with_spans(files=[capture(system)]) if system else store_with_spans(_ODD_SPANS)
    ) as store:
        fast = _tables(store, DUCKDB)
        slow = _tables(store, _ReadPerColumn())

    assert sum(len(fast[t]) for t in TABLES) > 0
    for name in TABLES:
        assert fast[name] == slow[name], name


def test_odd_attribute_values_are_read_as_text_and_near_miss_keys_make_no_job_run() -> None:
    with store_with_spans(_ODD_SPANS) as store:
        runs = derived(store, load_catalog([], packs=False).profiles)["job_runs"]

    rows = {r["job_id"]: r for r in runs}  # no row for the span with near-miss keys
    assert set(rows) == {"17", 'a"b\\c'}
    assert rows["17"]["system"] == "dramatiq"
    assert rows["17"]["attempt"] == 2
    assert rows["17"]["queue"] == "true"
    assert rows["17"]["outcome"] == "done"
    assert rows["17"]["expected_effects"] == "email.sent,sms.sent"
    assert rows['a"b\\c']["job_name"] == "naïve"
    assert rows['a"b\\c']["queue"] == ""


def _needles(cond: Cond) -> list[str]:
    sql = DUCKDB.render(cond_sql(cond, "s", Context(DUCKDB, table("otel_traces"))), pretty=False)
    return [part.split("'")[1] for part in sql.split("CONTAINS(")[1:]]


def test_the_key_test_keeps_its_quote_where_an_absent_key_could_pass_the_value_test() -> None:
    # an absent key reads as '': a test that '' passes needs the exact needle
    assert _needles(Cond(attributes=(("k", ("",)),))) == ['"k":']
    assert _needles(Cond(attributes=(("k", ("a", "")),))) == ['"k":']
    assert _needles(Cond(attributes_like=(("k", "*"),))) == ['"k":']
    # otherwise the value test decides, and the needle can skip the quote
    assert _needles(Cond(attributes=(("k", ("a",)),))) == ['k":']
    assert _needles(Cond(attributes_like=(("k", "a*"),))) == ['k":']
    assert _needles(Cond(has_attributes=("k",))) == ['k":']


_SPAN_RULES = """
rules:
  - id: any-span-by-trace
    severity: low
    jobs: {}
    expect:
      span: {name: "*"}
  - id: any-client-span-by-key
    severity: low
    jobs: {}
    expect:
      span: {name: "*", kind: client}
      correlate: key
      key: {job: job_id, effect: job.id}
"""


@pytest.mark.parametrize("system", ["celery", "rq", "bullmq"])
def test_a_span_selector_reads_the_same_effects_whether_parsed_once_or_per_column(
    system: str,
) -> None:
    rules = load_rule_text(_SPAN_RULES).rules
    with store_with_spans(files=[capture(system)]) as store:
        # the span selector finds each effect's run among the derived job runs
        derive(store.con, load_catalog([], packs=False).profiles)
        for rule in rules:
            effects = {}
            for dialect in (DUCKDB, _ReadPerColumn()):
                compiled = compile_rule(rule, dialect)
                sql = dialect.render(dict(compiled.common)["e"], pretty=False)
                rows = store.con.execute(sql, params_in(sql, compiled.all_params)).fetchall()
                effects[type(dialect)] = sorted(rows, key=repr)

            fast, slow = effects.values()
            assert fast, rule.id
            assert fast == slow, rule.id
