"""``audit rules suggest``: learn from traffic which effects each job owes.

For every (system, job name) with runs marked done, the statistics say which *candidates*
its runs usually had, as a share of those runs:

- an effect: a row of ``effects`` (the probes' ``side_effect.confirm`` spans and whatever
  else the profiles derive as effects), by its name;
- a client span that could serve as a rule's span selector: an SMTP span (by its name), an
  HTTP request that writes (POST, PUT, PATCH, DELETE) to one host, or a database INSERT into
  one table.

A candidate belongs to a run as ``correlate: trace`` joins them (``rules.compiler.correlate``):
in the run's trace, naming no ``job.id`` or the run's; or naming the run's ``job.id`` (and
no other system) in a trace with no job run. So the share counted here is the share of runs a
rule expecting that candidate would find confirmed, and the runs without it are the ones its
``confirmed`` and ``effect_ok`` checks would flag.

Owns the SQL (one statement over ``job_runs``, ``effects`` and ``otel_traces``, set-based:
nothing is done per span in Python), turning its rows into ``rules.suggest`` values, and the
store a request reads (files into an in-memory store, or ``--db``). The choice of rules and
the YAML are ``auditor.rules.suggest``'s, which is pure. No printing, no exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from auditor.engine.derive import derived_sql, make_derived
from auditor.engine.scan import Loader
from auditor.errors import InputError
from auditor.profiles.model import Profile
from auditor.receivers.files import IngestSummary, ingest_files
from auditor.rules.suggest import (
    RATIO_SLACK,
    Candidate,
    Example,
    JobStats,
    Proposal,
    Signature,
    propose,
)
from auditor.store.duck import DuckStore

EXAMPLES = 3  # example runs of each kind (confirmed, not confirmed) a suggestion shows
MAX_CANDIDATES = 10  # per job, the most frequent: enough for "the best was …"

# The attributes a candidate span is classified by, read from one parse of the map: the
# current semantic conventions first, the older names after them.
_KEYS = (
    "job.id", "job.system", "network.protocol.name",
    "http.request.method", "http.method", "server.address", "net.peer.name", "url.full",
    "http.url", "db.operation.name", "db.operation", "db.query.text", "db.statement",
    "db.collection.name", "db.sql.table",
)  # fmt: skip
_A = {key: index + 1 for index, key in enumerate(_KEYS)}  # 1-based, as DuckDB lists are
_PATHS = ", ".join(f"'$.\"{key}\"'" for key in _KEYS)


def _a(key: str) -> str:
    return f"a[{_A[key]}]"


# A URL's host: after the scheme and any user info, up to a port, path, query or fragment.
URL_HOST = r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)"
# The table of an INSERT statement (as written: maybe quoted, maybe schema-qualified).
INSERT_TABLE = r"^\s*(?i:insert)\s+(?:(?i:or)\s+\w+\s+)?(?i:into)\s+([^\s(]+)"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

_METHOD = f"coalesce({_a('http.request.method')}, {_a('http.method')})"
_STATEMENT = f"coalesce({_a('db.query.text')}, {_a('db.statement')})"
_OPERATION = f"coalesce({_a('db.operation.name')}, {_a('db.operation')})"
_URL = f"coalesce({_a('url.full')}, {_a('http.url')})"
_SMTP = f"(lower(coalesce({_a('network.protocol.name')}, '')) = 'smtp' OR lower(span_name) LIKE '%smtp%')"
_HTTP = f"upper({_METHOD}) IN ({', '.join(repr(m) for m in WRITE_METHODS)})"
_DB = (
    f"(upper({_OPERATION}) = 'INSERT' OR "
    f"({_OPERATION} IS NULL AND regexp_matches(coalesce({_STATEMENT}, ''), '^\\s*(?i:insert)\\b')))"
)

# One row per candidate span: its signature (what a selector would say), whether it failed,
# and what correlation reads (trace, job.id, job.system). Attributes are read once per span.
_SPAN_CANDIDATES = f"""
SELECT trace_id, span_id, ok,
       coalesce({_a("job.id")}, '') AS job_id, coalesce({_a("job.system")}, '') AS system,
       CASE WHEN {_SMTP} THEN {{
                'source': 'smtp', 'name': span_name, 'method_key': '', 'method': '',
                'host_key': '', 'host': '', 'op_key': '', 'op': '', 'stmt_key': '',
                'table_key': '', 'table': ''}}
            WHEN {_HTTP} THEN {{
                'source': 'http', 'name': '',
                'method_key': CASE WHEN {_a("http.request.method")} IS NOT NULL
                                   THEN 'http.request.method' ELSE 'http.method' END,
                'method': {_METHOD},
                'host_key': CASE WHEN {_a("server.address")} IS NOT NULL THEN 'server.address'
                                 WHEN {_a("net.peer.name")} IS NOT NULL THEN 'net.peer.name'
                                 WHEN {_a("url.full")} IS NOT NULL THEN 'url.full'
                                 WHEN {_a("http.url")} IS NOT NULL THEN 'http.url' ELSE '' END,
                'host': coalesce({_a("server.address")}, {_a("net.peer.name")},
                                 nullif(regexp_extract(coalesce({_URL}, ''), '{URL_HOST}', 1), ''),
                                 ''),
                'op_key': '', 'op': '', 'stmt_key': '', 'table_key': '', 'table': ''}}
            WHEN {_DB} THEN {{
                'source': 'db', 'name': '', 'method_key': '', 'method': '', 'host_key': '',
                'host': '',
                'op_key': CASE WHEN {_a("db.operation.name")} IS NOT NULL THEN 'db.operation.name'
                               WHEN {_a("db.operation")} IS NOT NULL THEN 'db.operation'
                               ELSE '' END,
                'op': coalesce({_OPERATION}, ''),
                'stmt_key': CASE WHEN {_OPERATION} IS NOT NULL
                                      AND coalesce({_a("db.collection.name")},
                                                   {_a("db.sql.table")}) IS NOT NULL THEN ''
                                 WHEN {_a("db.query.text")} IS NOT NULL THEN 'db.query.text'
                                 WHEN {_a("db.statement")} IS NOT NULL THEN 'db.statement'
                                 ELSE '' END,
                'table_key': CASE WHEN {_a("db.collection.name")} IS NOT NULL
                                  THEN 'db.collection.name'
                                  WHEN {_a("db.sql.table")} IS NOT NULL THEN 'db.sql.table'
                                  ELSE '' END,
                'table': coalesce({_a("db.collection.name")}, {_a("db.sql.table")},
                                  regexp_extract(coalesce({_STATEMENT}, ''), '{INSERT_TABLE}', 1))}}
       END AS sig
FROM (
    SELECT "TraceId" AS trace_id, "SpanId" AS span_id, "SpanName" AS span_name,
           "StatusCode" <> 'Error' AS ok,
           json_extract_string("SpanAttributes", [{_PATHS}]) AS a
    FROM otel_traces
    WHERE "SpanKind" = 'Client'
) AS s
"""

SQL = f"""
WITH runs AS MATERIALIZED (
    SELECT system, job_name, job_id, trace_id, span_id, start_ns
    FROM job_runs WHERE outcome = 'done' AND job_name <> ''
),
jobs AS (SELECT system, job_name, count(*) AS runs FROM runs GROUP BY ALL),
candidates AS MATERIALIZED (
    SELECT trace_id, ok, job_id, system,
           {{'source': 'effect', 'name': effect_name, 'method_key': '', 'method': '',
             'host_key': '', 'host': '', 'op_key': '', 'op': '', 'stmt_key': '',
             'table_key': '', 'table': ''}} AS sig
    FROM effects WHERE effect_name <> ''
    UNION ALL
    SELECT c.trace_id, c.ok, c.job_id, c.system, c.sig FROM ({_SPAN_CANDIDATES}) AS c
    ANTI JOIN job_runs AS own ON own.trace_id = c.trace_id AND own.span_id = c.span_id
    WHERE c.sig IS NOT NULL
      AND (c.sig.source <> 'http' OR c.sig.host <> '')
      AND (c.sig.source <> 'db' OR c.sig."table" <> '')
),
-- correlate: trace, as the rule compiler joins a run and its effects
matched AS (
    SELECT r.trace_id AS run_trace, r.span_id AS run_span, c.sig, c.ok
    FROM runs AS r JOIN candidates AS c
      ON c.trace_id = r.trace_id AND (c.job_id = '' OR c.job_id = r.job_id)
    UNION ALL
    SELECT r.trace_id, r.span_id, c.sig, c.ok
    FROM runs AS r JOIN candidates AS c
      ON c.job_id = r.job_id AND c.job_id <> '' AND (c.system = '' OR c.system = r.system)
    WHERE c.trace_id NOT IN (SELECT trace_id FROM job_runs)
),
per_run AS MATERIALIZED (  -- (run, candidate): did the run have one that did not fail?
    SELECT run_trace, run_span, sig, bool_or(ok) AS ok FROM matched GROUP BY ALL
),
counted AS (
    SELECT r.system, r.job_name, p.sig,
           count(*) FILTER (WHERE p.ok) AS confirmed,
           count(*) FILTER (WHERE NOT p.ok) AS failed
    FROM per_run AS p JOIN runs AS r ON r.trace_id = p.run_trace AND r.span_id = p.run_span
    GROUP BY ALL
),
stats AS (
    SELECT c.*, j.runs,
           j.runs >= $min_runs AND c.confirmed >= $min_ratio * j.runs - $slack AS stable
    FROM counted AS c JOIN jobs AS j USING (system, job_name)
    QUALIFY stable OR row_number() OVER (
        PARTITION BY system, job_name ORDER BY confirmed DESC, sig) <= $max_candidates
),
-- example runs (the earliest) of stable candidates: ones that had it, and ones that did not
-- (the runs a rule expecting it would flag)
examples AS (
    SELECT s.system, s.job_name, s.sig,
           arg_min(r.example, r.at, $examples) FILTER (WHERE p.ok) AS confirmed_examples,
           arg_min(r.example, r.at, $examples) FILTER (WHERE p.ok IS NOT TRUE) AS missing_examples
    FROM stats AS s
    JOIN (
        SELECT *, {{'trace_id': trace_id, 'job_id': job_id}} AS example,
               {{'at': start_ns, 'span': span_id}} AS at
        FROM runs
    ) AS r ON r.system = s.system AND r.job_name = s.job_name
    LEFT JOIN per_run AS p
      ON p.run_trace = r.trace_id AND p.run_span = r.span_id AND p.sig = s.sig
    WHERE s.stable
    GROUP BY ALL
)
SELECT j.system, j.job_name, j.runs, s.sig, s.confirmed, s.failed,
       coalesce(s.stable, false) AS stable,
       coalesce(x.confirmed_examples, []) AS confirmed_examples,
       coalesce(x.missing_examples, []) AS missing_examples
FROM jobs AS j
LEFT JOIN stats AS s USING (system, job_name)
LEFT JOIN examples AS x USING (system, job_name, sig)
ORDER BY j.system, j.job_name, s.confirmed DESC NULLS LAST, s.sig
"""


def job_stats(
    con: duckdb.DuckDBPyConnection,
    *,
    min_runs: int,
    min_ratio: float,
    examples: int = EXAMPLES,
) -> list[JobStats]:
    """Every named job with runs marked done and its most frequent candidates (every stable
    one, with example runs), over the derived tables made on ``con`` (``engine.derive``)."""
    rows = con.execute(
        SQL,
        {
            "min_runs": min_runs,
            "min_ratio": min_ratio,
            "slack": RATIO_SLACK,
            "examples": examples,
            "max_candidates": MAX_CANDIDATES,
        },
    ).fetchall()
    jobs: dict[tuple[str, str], tuple[int, list[Candidate]]] = {}
    for system, name, runs, sig, confirmed, failed, stable, have, lack in rows:
        _, candidates = jobs.setdefault((system, name), (int(runs), []))
        if sig is not None:
            candidates.append(
                Candidate(
                    signature=_signature(sig),
                    runs=int(runs),
                    confirmed=int(confirmed),
                    failed=int(failed),
                    stable=bool(stable),
                    confirmed_examples=_examples(have),
                    missing_examples=_examples(lack),
                )
            )
    return [
        JobStats(system, name, runs, tuple(candidates))
        for (system, name), (runs, candidates) in jobs.items()
    ]


def _signature(sig: dict[str, Any]) -> Signature:
    return Signature(**{key: str(value or "") for key, value in sig.items()})


def _examples(rows: Sequence[dict[str, Any]] | None) -> tuple[Example, ...]:
    return tuple(Example(str(r["trace_id"]), str(r["job_id"] or "")) for r in rows or ())


@dataclass(frozen=True)
class SuggestRequest:
    files: tuple[str, ...] = ()  # span files (added to ``db`` when given)
    db: Path | None = None  # a store to read
    min_runs: int = 20
    min_ratio: float = 0.8


@dataclass(frozen=True)
class SuggestResult:
    proposal: Proposal
    ingest: IngestSummary | None  # what loading the files said (None: no files)

    @property
    def input_problem(self) -> bool:
        """Lines or spans of the input were rejected: suggestions from part of it would
        mislead as a verdict would."""
        return self.ingest is not None and bool(self.ingest.bad_lines or self.ingest.spans_rejected)


def suggest(
    request: SuggestRequest, profiles: Sequence[Profile], *, load: Loader = ingest_files
) -> SuggestResult:
    """Derive the tables from the request's inputs with ``profiles`` and propose rules. A
    store read without files is opened read-only. No spans at all is an input error."""
    ingest = None
    db = request.db
    read_only = db is not None and not request.files
    with DuckStore(db if db is not None else ":memory:", read_only=read_only) as store:
        if request.files:
            ingest = load(store, list(request.files))
        if store.span_count() == 0:
            where = ", ".join(request.files) if request.files else str(db)
            raise InputError(f"no spans in {where}: nothing to learn from")
        # the statistics read none of the optional columns (attributes, links, …)
        make_derived(store.con, derived_sql(tuple(profiles), frozenset()))
        jobs = job_stats(store.con, min_runs=request.min_runs, min_ratio=request.min_ratio)
    inputs = request.files or (str(db),)
    return SuggestResult(
        propose(jobs, min_runs=request.min_runs, min_ratio=request.min_ratio, inputs=inputs),
        ingest,
    )
