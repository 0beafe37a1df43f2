"""Run every enabled rule's checks on a store and turn the rows into findings.

Called by ``audit scan`` (the input is complete: nothing is pending unless ``as_of_ns`` is
given), by ``audit rules test`` and by the sidecar's evaluation loop (``engine/loop.py``, as
of now). The store must hold ``otel_traces``; the derived tables are (re)built first.

A built-in pack rule and a user rule can report the same lie (the duplicate-effect pack and a
user rule with ``at_most_once``): the user's finding is kept and the pack's dropped, so one
lie is one finding.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb

from auditor.engine.catalog import Catalog
from auditor.engine.derive import derived_sql, make_derived
from auditor.engine.evidence import attach_evidence
from auditor.findings.messages import message
from auditor.findings.model import CHECK_KINDS, Finding, Kind, State
from auditor.findings.report import CheckedJob
from auditor.rules.compiler import (
    effects_key,
    optional_columns,
    shared_effect_tables,
    statement_for,
)
from auditor.rules.model import Rule

DEFAULT_WITHIN_S = 300.0  # grace for a confirmation after done_at when a rule sets none


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    checked: tuple[CheckedJob, ...]  # empty unless list_checked
    jobs_checked: int = 0  # (rule, job) pairs the user's rules judged
    seconds: dict[str, float] = field(default_factory=dict)


def _state(
    kind: Kind,
    rule: Rule,
    row: dict[str, Any],
    as_of_ns: int | None,
    default_within_s: float = DEFAULT_WITHIN_S,
) -> State:
    if as_of_ns is None:
        return State.OPEN
    if kind is Kind.LOST_JOB:
        deadline = row["start_ns"] + round((rule.complete_within_s or 0) * 1e9)
        return State.PENDING if deadline > as_of_ns else State.OPEN
    if kind in (Kind.UNCONFIRMED_DONE, Kind.FAILED_EFFECT):
        within = default_within_s
        if rule.expect is not None and rule.expect.within_s is not None:
            within = rule.expect.within_s
        deadline = row["done_ns"] + round(within * 1e9)
        return State.PENDING if deadline > as_of_ns else State.OPEN
    return State.OPEN


def finding_from_row(
    rule: Rule,
    check: str,
    row: dict[str, Any],
    as_of_ns: int | None,
    default_within_s: float = DEFAULT_WITHIN_S,
) -> Finding:
    """The finding of one row of a rule's statement. Every text column of those rows is
    VARCHAR (NULL or a string) and every number BIGINT: no conversions but NULL to ""."""
    kind = CHECK_KINDS[check]
    get = row.get
    system = get("system") or ""
    job_id = get("job_id") or ""
    job_name = get("job_name") or ""
    effect_name = get("effect_name") or ""
    effect_key = get("effect_key") or ""
    return Finding(
        rule_id=rule.id,
        kind=kind,
        severity=rule.severity,
        state=_state(kind, rule, row, as_of_ns, default_within_s),
        system=system,
        job_id=job_id,
        job_name=job_name,
        effect_key=effect_key,
        trace_id=get("trace_id") or "",
        span_id=get("span_id") or "",
        queue=get("queue") or "",
        attempt=get("attempt"),
        done_at_ns=get("done_ns"),
        effect_name=effect_name,
        service=get("service") or "",
        labels=rule.labels,
        message=message(
            kind,
            system=system,
            job_name=job_name,
            job_id=job_id,
            effect_name=effect_name,
            effect_key=effect_key,
            detail_ns=get("detail_ns"),
            note=get("note") or "",
            signals=get("signals") or "",
        ),
    )


def _subject(f: Finding) -> tuple[str, ...]:
    if f.kind is Kind.DUPLICATE_EFFECT:
        # the same key repeated by the same job(s), whichever span the rule took as proof
        return (str(f.kind), f.system, f.job_id, f.effect_key)
    return (str(f.kind), f.system, f.job_id)


@dataclass(frozen=True)
class Candidate:
    """A finding as a check produced it, with the spans its row pointed at."""

    finding: Finding
    builtin: bool
    related: tuple[str, ...]  # "trace_id/span_id" of effects, failed spans or signals


def _drop_pack_repeats(candidates: list[Candidate]) -> list[Candidate]:
    """Keep a pack rule's finding only when no user rule reports the same lie."""
    user_subjects = {_subject(c.finding) for c in candidates if not c.builtin}
    return [c for c in candidates if not (c.builtin and _subject(c.finding) in user_subjects)]


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


_paused = 0  # evaluations running with the cyclic collector paused
_paused_lock = threading.Lock()
_was_enabled = True  # whether the collector ran before the first of them paused it


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an evaluation makes its rows, findings
    and evidence: tens of thousands of objects without cycles, which the collector would
    otherwise walk again and again as they are made (a fifth of the Python time). The last
    evaluation to finish restores it."""
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, params: object
) -> tuple[tuple[str, ...], list[tuple]]:
    cursor = con.execute(sql, params)
    return tuple(d[0] for d in cursor.description or ()), cursor.fetchall()


def _timed(what: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    what(*args)
    return time.perf_counter() - started


def evaluate(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    *,
    as_of_ns: int | None = None,
    evidence: bool = True,
    rules: Iterable[Rule] | None = None,
    list_checked: bool = False,
    default_within_s: float = DEFAULT_WITHIN_S,
) -> Evaluation:
    """Findings of every enabled rule (or of ``rules``). ``list_checked`` also lists each
    (rule, job) judged (JUnit's test cases); otherwise only their number is counted.
    ``default_within_s``: the grace of rules that set no ``within`` (audit.yaml's
    ``evaluation.grace``).

    The statements run in order on one thread of their own while this one compiles the
    next rule and turns the rows of the previous one into findings: DuckDB releases the
    interpreter while it works, so most of the Python work overlaps the SQL."""
    with _collector_paused():
        seconds: dict[str, float] = {}
        selected = list(rules if rules is not None else catalog.enabled_rules())
        raw, checked, jobs_checked = _run_rules(
            con, catalog, selected, list_checked, as_of_ns, default_within_s, seconds
        )
        kept = _drop_pack_repeats(raw)
        if evidence and kept:
            started = time.perf_counter()
            findings = attach_evidence(con, [(c.finding, c.related) for c in kept])
            seconds["evidence"] = time.perf_counter() - started
        else:
            findings = [c.finding for c in kept]
        findings.sort(
            key=lambda f: (
                -f.severity.rank,
                str(f.kind),
                f.rule_id,
                f.system,
                f.job_name,
                f.job_id,
                f.effect_key,
            )
        )
        checked.sort(key=lambda c: (c.rule_id, c.system, c.job_name, c.job_id))
        return Evaluation(tuple(findings), tuple(checked), jobs_checked, seconds)


def _run_rules(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    selected: list[Rule],
    list_checked: bool,
    as_of_ns: int | None,
    default_within_s: float,
    seconds: dict[str, float],
) -> tuple[list[Candidate], list[CheckedJob], int]:
    """Derive the tables, run every rule's statement, and collect the candidate findings and
    the judged jobs (and how many jobs were judged); the time of the derive and rules steps
    goes into ``seconds``."""
    raw: list[Candidate] = []
    checked: list[CheckedJob] = []
    jobs_checked = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor-sql") as db:
        try:
            # compiled here first: the rules compile below while DuckDB derives
            optional = frozenset().union(*(optional_columns(rule) for rule in selected))
            derived_tables = derived_sql(tuple(catalog.profiles), optional)
            derived = db.submit(_timed, make_derived, con, derived_tables)
            shared, made = _effect_groups(selected)
            steps = [
                db.submit(con.execute, f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}', values)
                for name, sql, values in made
            ]
            pending = []
            for rule in selected:
                builtin = catalog.is_builtin(rule)
                # One statement per rule: its shared tables (runs, effects, which belong
                # together) computed once, every check over them, and the judged jobs for
                # reports (JUnit).
                judged = "none" if builtin else ("rows" if list_checked else "count")
                tables = (("e", shared[rule.id]),) if rule.id in shared else ()
                sql, params = _statement(rule, judged, tables)
                pending.append((rule, builtin, db.submit(_run, con, sql, params)))
            steps += [
                db.submit(con.execute, f'DROP TABLE IF EXISTS "{name}"') for name, _, _ in made
            ]
            seconds["derive"] = derived.result()
            started = time.perf_counter()
            for rule, builtin, future in pending:
                names, rows = future.result()
                jobs_checked += _collect(
                    rule, builtin, names, rows, as_of_ns, default_within_s, raw, checked
                )
            for step in steps:
                step.result()
            seconds["rules"] = time.perf_counter() - started
        except BaseException:
            db.shutdown(wait=True, cancel_futures=True)
            raise
    return raw, checked, jobs_checked


def _collect(
    rule: Rule,
    builtin: bool,
    names: tuple[str, ...],
    rows: list[tuple],
    as_of_ns: int | None,
    default_within_s: float,
    raw: list[Candidate],
    checked: list[CheckedJob],
) -> int:
    """Append the findings (``raw``) and judged jobs (``checked``) of one rule's rows;
    returns how many jobs the rule judged."""
    jobs_checked = 0
    for values in rows:
        row = dict(zip(names, values, strict=True))
        check = str(row["check"])
        if check == "judged":
            checked.append(
                CheckedJob(
                    rule.id, str(row["system"]), str(row["job_id"]), str(row["job_name"] or "")
                )
            )
            jobs_checked += 1
            continue
        if check == "judged_count":
            jobs_checked += int(row["detail_ns"] or 0)
            continue
        finding = finding_from_row(rule, check, row, as_of_ns, default_within_s)
        related = tuple(row["related"] or ())  # "trace_id/span_id" strings
        raw.append(Candidate(finding, builtin, related))
    return jobs_checked
