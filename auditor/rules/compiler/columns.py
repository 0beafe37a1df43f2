"""Which derived columns a rule's SQL reads: the ones ``j`` and ``e`` carry, and the optional
ones (``auditor.tables.OPTIONAL_COLUMNS``) an evaluation must derive for the rule.

Owns ``j_columns`` and ``e_columns`` (only what the checks read: copying the attribute JSON
of every run into each rule's tables was most of a rule's cost) and ``optional_columns``,
which must name every optional column any builder reads; one missed fails loudly (the
statement does not bind), never silently.

Must never read a column name from anywhere but ``auditor.tables``.
"""

from __future__ import annotations

from auditor.rules.compiler.context import Build
from auditor.rules.model import Rule
from auditor.rules.where import columns_named
from auditor.sqlbuild import DUCKDB
from auditor.tables import EFFECT_KEYS, ENQUEUES, JOB_KEYS, JOB_RUNS, OPTIONAL_COLUMNS

_J_BASE = (
    "system", "job_id", "job_name", "queue", "attempt", "outcome", "done_ns", "start_ns",
    "end_ns", "trace_id", "span_id", "service", "signals",
)  # fmt: skip
# the column ``e`` adds to the effects columns: the span id of the run the effect belongs to
# in its trace ('' for none; ``auditor.tables.OWNERS``)
E_OWNER = "run_span_id"
_E_BASE = (
    "effect_name", "effect_key", "job_id", "system", "ok", "start_ns", "end_ns", "trace_id",
    "span_id", "span_name", "status_message", "service",
)  # fmt: skip


def needs_attributes(b: Build, side: str) -> bool:
    """Does the rule read a non-normalized attribute of the job (or effect) side's row?"""
    expect = b.rule.expect
    if expect is None or expect.key is None:
        return False
    if side == "job":
        return expect.key.job not in JOB_KEYS
    return expect.key.effect not in EFFECT_KEYS


def j_columns(b: Build) -> tuple[str, ...]:
    """The job_runs columns ``j`` carries."""
    extra = ("link_trace_ids",) if b.link else ()
    return _J_BASE + extra + (("attributes",) if needs_attributes(b, "job") else ())


def e_columns(b: Build) -> tuple[str, ...]:
    """The effects columns ``e`` carries."""
    extra = ("link_trace_ids",) if b.link else ()
    return _E_BASE + extra + (("attributes",) if needs_attributes(b, "effect") else ())


def optional_columns(rule: Rule) -> frozenset[tuple[str, str]]:
    """The (table, column) pairs of OPTIONAL_COLUMNS that ``rule``'s SQL reads."""
    b = Build(rule, DUCKDB)
    read: set[tuple[str, str]] = set()
    if b.link:
        read |= {("job_runs", "link_trace_ids"), ("effects", "link_trace_ids")}
    if rule.expect is not None and needs_attributes(b, "job"):
        read.add(("job_runs", "attributes"))
    if rule.expect is not None and needs_attributes(b, "effect"):
        read.add(("effects", "attributes"))
    for key, _ in rule.jobs.attributes:  # what job_filter reads, on runs and on enqueues
        column = JOB_KEYS.get(key)
        read.add(("job_runs", column or "attributes"))
        read.add(("enqueues", "attributes" if column in (None, "attempt") else column))
    if rule.jobs.where:  # the row's columns a where names (the others are its span's)
        named = columns_named(rule.jobs.where)
        read |= {("job_runs", c) for c in named if c in JOB_RUNS.names}
        read |= {("enqueues", c) for c in named if c in ENQUEUES.names}
    return frozenset(
        (table, column) for table, column in read if column in OPTIONAL_COLUMNS.get(table, ())
    )
