"""Run every enabled rule's checks on a store and make the findings table.

Called by ``audit scan`` (the input is complete: nothing is pending unless ``as_of_ns`` is
given), by ``audit rules test`` and by the sidecar's evaluation loop (``engine/loop.py``, as
of now). The store must hold ``otel_traces``; the derived tables are (re)built first.

Findings stay columnar from SQL to the user: each rule's statement appends its rows to a
temporary table, and one more statement (``engine/findings.py``) turns them into the findings
table — kinds, states, one finding per lie, fingerprints, messages, evidence and each
finding's JSON text — which comes back as Arrow (``FindingTable``). No Python object is made
per finding unless a caller asks for one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from auditor.engine.catalog import Catalog
from auditor.engine.derive import derived_sql, make_derived
from auditor.engine.findings import make_findings
from auditor.findings.report import CheckedJob
from auditor.findings.table import SCHEMA, FindingTable
from auditor.rules.compiler import (
    effects_key,
    optional_columns,
    shared_effect_tables,
    statement_for,
)
from auditor.rules.model import Rule
from auditor.store.sandbox import sandbox
from auditor.tables import CHECK_ROW

DEFAULT_WITHIN_S = 300.0  # grace for a confirmation after done_at when a rule sets none


@dataclass(frozen=True)
class Evaluation:
    findings: FindingTable  # in report order
    checked: tuple[CheckedJob, ...]  # empty unless list_checked
    jobs_checked: int = 0  # (rule, job) pairs the rules judged
    seconds: dict[str, float] = field(default_factory=dict)
    judged: dict[str, int] = field(default_factory=dict)  # rule id -> jobs it judged
    job_runs: dict[str, int] = field(default_factory=dict)  # system -> job runs recognized
    job_names: dict[str, list[str]] = field(default_factory=dict)  # system -> names (some)


# Compiling is pure and rules are immutable values: the sidecar evaluates the same rules
# every pass, so their SQL is compiled once per process.


@functools.lru_cache(maxsize=4096)
def _effects_key(rule: Rule) -> tuple[str, tuple[object, ...]] | None:
    return effects_key(rule)


@functools.lru_cache(maxsize=4096)
def _statement(
    rule: Rule, judged: str, tables: tuple[tuple[str, str], ...]
) -> tuple[str, dict[str, object]]:
    return statement_for(rule, judged=judged, tables=dict(tables))


def forget_compiled() -> None:
    """Drop the compiled SQL (benchmarks measuring a cold ``audit scan`` call this)."""
    _effects_key.cache_clear()
    _statement.cache_clear()
    derived_sql.cache_clear()


def _effect_groups(rules: list[Rule]) -> tuple[dict[str, str], list[tuple[str, str, list]]]:
    """Rules that accept the same effect spans (the same ``e``) read one table made once:
    (rule id -> table, [(table, SELECT, parameters)] to make)."""
    return shared_effect_tables(rules, _effects_key)


# The columns of a rule statement's rows (``CompiledRule.batch``), as stored for the findings
# statement; the first says which rule (its index in the evaluation) made the row.
_CANDIDATES = (
    "CREATE OR REPLACE TEMP TABLE audit_candidates (rule_idx INTEGER, "
    + ", ".join(f'"{name}" {sql_type}' for name, sql_type in CHECK_ROW)
    + ")"
)


def _timed(what: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    what(*args)
    return time.perf_counter() - started


def within_s(rule: Rule, default_within_s: float = DEFAULT_WITHIN_S) -> float:
    """The grace after ``done_at`` a rule gives its confirmation: its ``within``, else the
    default (``evaluation.grace``)."""
    if rule.expect is not None and rule.expect.within_s is not None:
        return rule.expect.within_s
    return default_within_s


def _rule_info(selected: list[Rule], catalog: Catalog, default_within_s: float) -> pa.Table:
    """Per rule index: what the findings statement needs to know of the rule."""
    within = [within_s(rule, default_within_s) for rule in selected]
    return pa.table(
        {
            "rule_idx": pa.array(range(len(selected)), pa.int32()),
            "rule_id": [rule.id for rule in selected],
            "severity": [str(rule.severity) for rule in selected],
            "severity_rank": pa.array([rule.severity.rank for rule in selected], pa.int32()),
            "builtin": [catalog.is_builtin(rule) for rule in selected],
            "labels": pa.array(
                [list(rule.labels) for rule in selected], pa.map_(pa.string(), pa.string())
            ),
            "within_ns": pa.array([round(w * 1e9) for w in within], pa.int64()),
            "complete_within_ns": pa.array(
                [round((rule.complete_within_s or 0) * 1e9) for rule in selected], pa.int64()
            ),
        }
    )


def evaluate(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    *,
    as_of_ns: int | None = None,
    evidence: bool = True,
    rules: Iterable[Rule] | None = None,
    list_checked: bool = False,
    default_within_s: float = DEFAULT_WITHIN_S,
    derive: bool = True,
    keep: str | None = None,
) -> Evaluation:
    """Findings of every enabled rule (or of ``rules``). ``list_checked`` also lists each
    (rule, job) judged (JUnit's test cases); otherwise only their number is counted.
    ``default_within_s``: the grace of rules that set no ``within`` (audit.yaml's
    ``evaluation.grace``).

    The statements run in order on one thread of their own while this one compiles the
    next rules (DuckDB releases the interpreter while it works).

    ``derive=False``: the derived tables are already there (the sidecar's incremental tick
    made them, narrowed to what it re-judges). ``keep``: a condition on ``audit_candidates``
    rows; the candidates it rejects are dropped before findings are made."""
    seconds: dict[str, float] = {}
    sandbox(con)  # rule SQL reads the store and nothing else, and cannot change that
    selected = list(rules if rules is not None else catalog.enabled_rules())
    _run_rules(con, catalog, selected, list_checked, seconds, derive)
    if keep is not None:
        con.execute(f"DELETE FROM audit_candidates WHERE NOT ({keep})")
    started = time.perf_counter()
    info = _rule_info(selected, catalog, default_within_s)
    con.register("audit_rule_info", info)
    try:
        make_findings(con, as_of_ns=as_of_ns, evidence=evidence)
    finally:
        con.unregister("audit_rule_info")
    table = con.sql("SELECT * FROM audit_findings").to_arrow_table()
    seconds["findings"] = time.perf_counter() - started
    checked, judged = _judged(con, selected)
    jobs_checked = sum(judged)
    runs = con.execute(
        "SELECT system, count(*) FROM job_runs GROUP BY system ORDER BY system"
    ).fetchall()
    names: dict[str, list[str]] = {}
    for system, name in con.execute(
        "SELECT DISTINCT system, job_name FROM job_runs WHERE job_name <> '' "
        "ORDER BY system, job_name LIMIT 10000"
    ).fetchall():
        names.setdefault(str(system), []).append(str(name))
    con.execute("DROP TABLE IF EXISTS audit_found")
    return Evaluation(
        FindingTable(table.cast(SCHEMA)),
        checked,
        jobs_checked,
        seconds,
        judged={rule.id: n for rule, n in zip(selected, judged, strict=True)},
        job_runs={str(system): int(n) for system, n in runs},
        job_names=names,
    )


def _judged(
    con: duckdb.DuckDBPyConnection, selected: list[Rule]
) -> tuple[tuple[CheckedJob, ...], list[int]]:
    """The (rule, job) pairs the rules judged, when listed, and how many each rule judged."""
    rows = con.execute(
        """SELECT rule_idx, "check", system, job_id, job_name, detail_ns FROM audit_candidates
           WHERE "check" IN ('judged', 'judged_count')"""
    ).fetchall()
    checked = []
    counts = [0] * len(selected)
    for rule_idx, check, system, job_id, job_name, detail in rows:
        if check == "judged_count":
            counts[rule_idx] += int(detail or 0)
        else:
            checked.append(CheckedJob(selected[rule_idx].id, system, job_id, job_name or ""))
            counts[rule_idx] += 1
    checked.sort(key=lambda c: (c.rule_id, c.system, c.job_name, c.job_id))
    return tuple(checked), counts


def _run_rules(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    selected: list[Rule],
    list_checked: bool,
    seconds: dict[str, float],
    derive: bool = True,
) -> None:
    """Derive the tables and run every rule's statement into ``audit_candidates``; the time
    of the derive and rules steps goes into ``seconds``."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor-sql") as db:
        try:
            # compiled here first: the rules compile below while DuckDB derives
            optional = frozenset().union(*(optional_columns(rule) for rule in selected))
            derived_tables = derived_sql(tuple(catalog.profiles), optional)
            derived = db.submit(_timed, make_derived, con, derived_tables if derive else ())
            steps = [db.submit(con.execute, _CANDIDATES)]
            shared, made = _effect_groups(selected)
            steps += [
                db.submit(con.execute, f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}', values)
                for name, sql, values in made
            ]
            for index, rule in enumerate(selected):
                # One statement per rule: its shared tables (runs, effects, which belong
                # together) computed once, every check over them, and the judged jobs for
                # reports (JUnit).
                # JUnit lists the jobs your rules judged; the packs' are counted
                rows = list_checked and not catalog.is_builtin(rule)
                judged = "rows" if rows else "count"
                tables = (("e", shared[rule.id]),) if rule.id in shared else ()
                sql, params = _statement(rule, judged, tables)
                insert = f"INSERT INTO audit_candidates SELECT {index}, * FROM ({sql})"
                steps.append(db.submit(con.execute, insert, params))
            steps += [
                db.submit(con.execute, f'DROP TABLE IF EXISTS "{name}"') for name, _, _ in made
            ]
            seconds["derive"] = derived.result()
            started = time.perf_counter()
            for step in steps:
                step.result()
            seconds["rules"] = time.perf_counter() - started
        except BaseException:
            db.shutdown(wait=True, cancel_futures=True)
            raise
