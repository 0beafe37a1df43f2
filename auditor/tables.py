"""The tables between the two compilers: what profiles derive and rules read.

Pure data, no I/O, imported by both sides so that neither reads the other's internals:

- the derived tables (``DERIVED``: ``job_runs``, ``enqueues``, ``effects``, ``signals``,
  ``error_spans``, and ``owners``, the job run each effect and error span belongs to in a
  trace that holds several runs — ``auditor.ancestry``), each with its columns in SELECT order and their DuckDB types, and the
  columns derived only when a rule reads them (``OPTIONAL_COLUMNS``). ``profiles.compiler``
  writes these columns in this order; ``engine.derive`` prunes the optional ones no rule
  reads; the rule compiler reads them;
- the names a rule file may use for a derived column (``JOB_KEYS`` in ``jobs.attributes`` and
  ``key.job``, ``EFFECT_KEYS`` in ``key.effect``): any other name is an attribute of the span;
- the rows a rule's statement returns (``CHECK_ROW``): one per finding candidate, tagged with
  its check, or per judged job; the engine stores them as they come.

Changing a column here changes the SQL both compilers emit: the golden SQL and the test that
derives every table and runs every rule form against these lists say where.
"""

from __future__ import annotations

from dataclasses import dataclass

Columns = tuple[tuple[str, str], ...]  # (column, DuckDB type), in SELECT order


@dataclass(frozen=True)
class Table:
    """A derived table: its columns and, of those, the ones only some rules read."""

    name: str
    columns: Columns
    optional: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def types(self) -> dict[str, str]:
        return dict(self.columns)


JOB_RUNS = Table(
    "job_runs",
    (
        ("system", "VARCHAR"), ("job_id", "VARCHAR"), ("job_name", "VARCHAR"),
        ("queue", "VARCHAR"), ("attempt", "BIGINT"), ("outcome", "VARCHAR"),
        ("done_ns", "BIGINT"), ("start_ns", "BIGINT"), ("end_ns", "BIGINT"),
        ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("parent_span_id", "VARCHAR"),
        ("service", "VARCHAR"), ("span_name", "VARCHAR"), ("status", "VARCHAR"),
        ("attributes", "JSON"), ("expected_effects", "VARCHAR"), ("signals", "VARCHAR"),
        ("link_trace_ids", "VARCHAR[]"), ("batch_id", "UBIGINT"), ("profile", "VARCHAR"),
    ),
    optional=("attributes", "link_trace_ids", "batch_id", "parent_span_id", "span_name",
              "status", "profile"),
)  # fmt: skip
ENQUEUES = Table(
    "enqueues",
    (
        ("system", "VARCHAR"), ("job_id", "VARCHAR"), ("job_name", "VARCHAR"),
        ("queue", "VARCHAR"), ("enqueued_ns", "BIGINT"), ("trace_id", "VARCHAR"),
        ("span_id", "VARCHAR"), ("service", "VARCHAR"), ("span_name", "VARCHAR"),
        ("attributes", "JSON"), ("batch_id", "UBIGINT"), ("profile", "VARCHAR"),
    ),
    optional=("attributes", "batch_id", "span_name", "profile"),
)  # fmt: skip
EFFECTS = Table(
    "effects",
    (
        ("effect_name", "VARCHAR"), ("effect_key", "VARCHAR"), ("job_id", "VARCHAR"),
        ("system", "VARCHAR"), ("ok", "BOOLEAN"), ("start_ns", "BIGINT"), ("end_ns", "BIGINT"),
        ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("parent_span_id", "VARCHAR"),
        ("service", "VARCHAR"), ("span_name", "VARCHAR"), ("status_message", "VARCHAR"),
        ("attributes", "JSON"), ("link_trace_ids", "VARCHAR[]"), ("batch_id", "UBIGINT"),
    ),
    optional=("attributes", "link_trace_ids", "batch_id"),  # parent_span_id: owners reads it
)  # fmt: skip
SIGNALS = Table(
    "signals",
    (
        ("system", "VARCHAR"), ("job_id", "VARCHAR"), ("signal", "VARCHAR"), ("at_ns", "BIGINT"),
        ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("note", "VARCHAR"),
    ),
)  # fmt: skip
ERROR_SPANS = Table(
    "error_spans",
    (
        ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("parent_span_id", "VARCHAR"),
        ("span_name", "VARCHAR"), ("start_ns", "BIGINT"), ("end_ns", "BIGINT"),
        ("job_id", "VARCHAR"), ("status_message", "VARCHAR"), ("service", "VARCHAR"),
    ),
)  # fmt: skip

# Made after the others, from them: per effect or error span of a trace holding a job run,
# the run it belongs to (its nearest ancestor-or-self among runs; with none, the run of its
# service whose time span contains it). A span that belongs to no run has no row.
OWNERS = Table(
    "owners",
    (("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("run_span_id", "VARCHAR")),
)

DERIVED: tuple[Table, ...] = (JOB_RUNS, ENQUEUES, EFFECTS, SIGNALS, ERROR_SPANS, OWNERS)

# Columns of the derived tables that only some rules read: an evaluation derives them only
# when one of its rules does (copying every span's attribute JSON into job_runs, enqueues and
# effects was a tenth of the derive time). Every other column is always derived.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {t.name: t.optional for t in DERIVED if t.optional}

# A rule's name for a job run's derived column, in jobs.attributes and key.job (job.id is the
# run's normalized id, whatever attribute its system uses); any other name is an attribute.
JOB_KEYS: dict[str, str] = {
    "system": "system", "job_id": "job_id", "job.id": "job_id", "job_name": "job_name",
    "queue": "queue", "service": "service", "attempt": "attempt", "profile": "profile",
}  # fmt: skip
# … and for an effect's, in key.effect.
EFFECT_KEYS: dict[str, str] = {
    "job.id": "job_id",
    "side_effect.key": "effect_key",
    "side_effect.name": "effect_name",
}

# The rows of a rule's statement: the check that made the row ("judged" / "judged_count" for
# the jobs a rule judged), the job (or, for a duplicate, its jobs joined by ","), the effect,
# the spans the row points at ("trace_id/span_id"), a number whose meaning depends on the
# check (how late, how many spans; the judged count) and a note (why an effect failed).
CHECK_ROW: Columns = (
    ("check", "VARCHAR"), ("system", "VARCHAR"), ("job_id", "VARCHAR"),
    ("job_name", "VARCHAR"), ("queue", "VARCHAR"), ("attempt", "BIGINT"),
    ("done_ns", "BIGINT"), ("start_ns", "BIGINT"), ("end_ns", "BIGINT"),
    ("trace_id", "VARCHAR"), ("span_id", "VARCHAR"), ("service", "VARCHAR"),
    ("signals", "VARCHAR"), ("effect_name", "VARCHAR"), ("effect_key", "VARCHAR"),
    ("related", "VARCHAR[]"), ("detail_ns", "BIGINT"), ("note", "VARCHAR"),
)  # fmt: skip
