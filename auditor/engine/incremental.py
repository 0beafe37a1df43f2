"""The sidecar's incremental evaluation: each tick judges what changed since the last one.

Called by ``engine/loop.py`` on a cursor of the store's writer. A tick costs in proportion to
the spans that arrived since the watermark (``auditor_watermarks``: the last
``auditor_batches`` id evaluated) and to the findings whose grace window closed, not to the
size of the store:

1. **Derive what changed.** The derived tables (``auditor.tables``: job runs, enqueues,
   effects, signals, error spans) are kept in the store (schema ``derived``, every column).
   The traces that got new spans are derived again from all their spans — a run's outcome
   and ``done_ns`` read its child spans, which may arrive later than the run — with the same
   compiled SELECTs ``audit scan`` uses (``engine/derive.py``), and their rows replace the
   traces' earlier ones. Attempts number a job's runs across traces, so the traces of every
   run of a touched job id are derived again with them.
2. **Choose the units to re-judge.** A run unit is a trace (its runs are judged together:
   an effect belongs to the nearest run); a ``duplicate_effect`` is judged per effect key; a
   ``lost_job`` per job id. Re-judged: the changed traces; the traces their new effects,
   signals, enqueues and runs point at (the same job id, a span link either way); every trace
   holding an effect with a key those carry; and the units of pending findings whose grace
   window has closed (time alone turns them open, on a quiet queue too).
3. **Narrow the inputs, run the same SQL.** TEMP tables named like the derived tables hold
   only the rows those units need — both sides of every join bounded: the units' runs, and
   the effects, enqueues, signals and error spans that can correlate with them (same trace,
   job id, key, link) — and the rules' compiled statements run over them unchanged
   (``engine/evaluate.py``, ``derive=False``). Candidates outside the units are dropped
   (their inputs were not complete), and ``store/findings.py`` saves the findings, resolving
   a stored finding only when its unit was re-judged.

Every lookup in the kept tables is also bounded in time: rows within ``horizon_s`` of the
changed spans (DuckDB skips row groups by their min/max, and rows are appended in time
order). Spans of one unit further apart than the horizon are not joined by a tick (a full
``audit scan --db`` still joins them); the default horizon is twice the longest grace window
of the rules, and at least ten minutes.

Known limits (docs/design.md, "Evaluation"): a rule that correlates by ``key:`` on an
attribute other than the job id / effect key, or selects its effect with ``expect.span`` and
correlates by key or link, sees only the effects of the units' own traces in a tick.

The first tick of a store (or after the profiles or rules changed, ``signature``) is a full
pass: everything is derived into the kept tables and every unit is judged.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field

import duckdb

from auditor.clock import from_ns, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.derive import derived_sql
from auditor.engine.evaluate import DEFAULT_WITHIN_S, Evaluation, evaluate, within_s
from auditor.store.findings import Saved, save_findings
from auditor.tables import DERIVED

MIN_HORIZON_S = 600.0
WATERMARK = "serve"  # the watermark row of the sidecar's evaluation
SCHEMA = "derived"  # where the kept derived tables live

# per derived table: the column that places a row in time (for the horizon)
_TIME = {
    "job_runs": "start_ns",
    "enqueues": "enqueued_ns",
    "effects": "start_ns",
    "signals": "at_ns",
    "error_spans": "start_ns",
}
# ``owners`` (the run each effect and error span belongs to) has no time of its own: it is
# kept in trace order, replaced with its traces, and narrowed to the narrowed effects' and
# error spans' traces.
_ORDER = {**_TIME, "owners": "trace_id"}
# the kinds judged per run unit (trace); the others: duplicate_effect per key, lost_job per id
_RUN_CHECKS = ("confirmed", "before_done", "effect_ok")
_RUN_KINDS = ("unconfirmed_done", "premature_done", "failed_effect")


@dataclass(frozen=True)
class Tick:
    """What one tick did."""

    evaluation: Evaluation
    saved: Saved
    batch: int  # the watermark after the tick
    full: bool  # a full pass (first tick, or the rules changed)
    traces: int = 0  # run units (traces) re-judged
    new_spans: int = 0  # spans read from the new batches' traces
    seconds: dict[str, float] = field(default_factory=dict)


def signature(catalog: Catalog, default_within_s: float) -> str:
    """What the kept tables and findings depend on: the profiles, the rules and the grace."""
    text = repr((tuple(catalog.profiles), tuple(catalog.enabled_rules()), default_within_s))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def horizon_for(catalog: Catalog, default_within_s: float, horizon_s: float | None) -> float:
    """The time window of a tick's lookups: ``horizon_s``, else twice the longest grace
    window of the rules (``within``, ``complete_within``), and at least ten minutes."""
    longest = max(
        (
            max(within_s(r, default_within_s), r.complete_within_s or 0.0)
            for r in catalog.enabled_rules()
        ),
        default=default_within_s,
    )
    if horizon_s is not None:
        return horizon_s
    return max(MIN_HORIZON_S, 2 * longest)


def read_watermark(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = con.execute(
        "SELECT batch_id, signature FROM auditor_watermarks WHERE name = ?", [WATERMARK]
    ).fetchall()
    return (int(row[0][0]), str(row[0][1])) if row else (0, "")


def _write_watermark(con: duckdb.DuckDBPyConnection, batch: int, sig: str, as_of_ns: int) -> None:
    con.execute(
        """INSERT INTO auditor_watermarks VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET batch_id = excluded.batch_id,
           signature = excluded.signature, as_of_ns = excluded.as_of_ns,
           updated_at = excluded.updated_at""",
        [WATERMARK, batch, sig, as_of_ns, naive_utc(from_ns(as_of_ns))],
    )


def _window(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    row = con.execute("SELECT lo, hi FROM audit_window").fetchall()
    if not row or row[0][0] is None:
        return 0, -1  # nothing to look up
    return int(row[0][0]), int(row[0][1])


def _bounded(sql: str, window: tuple[int, int]) -> str:
    """``sql`` with the tick's window (``w.lo``, ``w.hi``) as literal integers: DuckDB then
    skips the row groups outside it (a join with the window table would read them all)."""
    lo, hi = window
    return sql.replace(", audit_window AS w", "").replace("w.lo", str(lo)).replace("w.hi", str(hi))


def _kept(name: str) -> str:
    return f'{SCHEMA}."{name}"'


def _reset_kept(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the kept derived tables, empty."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for t in DERIVED:
        columns = ", ".join(f'"{c}" {sql_type}' for c, sql_type in t.columns)
        con.execute(f"CREATE OR REPLACE TABLE {_kept(t.name)} ({columns})")


def _latest_batch(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute("SELECT coalesce(max(batch_id), 0) FROM auditor_batches").fetchall()[0][0]
    )


def _rule_windows(catalog: Catalog, default_within_s: float) -> list[tuple[str, int, int]]:
    return [
        (
            r.id,
            round(within_s(r, default_within_s) * 1e9),
            round((r.complete_within_s or 0) * 1e9),
        )
        for r in catalog.enabled_rules()
    ]


# The pending findings whose grace window has closed: (kind, trace, key, job id, when).
_DUE = """
SELECT f.kind, f.trace_id, f.effect_key, f.job_id,
       coalesce(f.done_ns, q.enqueued_ns, 0) AS at_ns
FROM findings AS f
JOIN (SELECT unnest($rules) AS rule_id, unnest($within) AS within_ns,
             unnest($complete) AS complete_ns) AS w USING (rule_id)
LEFT JOIN (SELECT system, job_id, min(enqueued_ns) AS enqueued_ns FROM derived.enqueues
           WHERE job_id IN (SELECT job_id FROM findings
                            WHERE state = 'pending' AND kind = 'lost_job')
           GROUP BY ALL) AS q
  ON f.kind = 'lost_job' AND q.system = f.system AND q.job_id = f.job_id
WHERE f.origin = 'serve' AND f.state = 'pending'
  AND CASE WHEN f.kind = 'lost_job' THEN q.enqueued_ns + w.complete_ns
           ELSE f.done_ns + w.within_ns END <= $now
"""

_NEXT_DUE = """
SELECT min(CASE WHEN f.kind = 'lost_job' THEN q.enqueued_ns + w.complete_ns
                ELSE f.done_ns + w.within_ns END)
FROM findings AS f
JOIN (SELECT unnest($rules) AS rule_id, unnest($within) AS within_ns,
             unnest($complete) AS complete_ns) AS w USING (rule_id)
LEFT JOIN (SELECT system, job_id, min(enqueued_ns) AS enqueued_ns FROM derived.enqueues
           WHERE job_id IN (SELECT job_id FROM findings
                            WHERE state = 'pending' AND kind = 'lost_job')
           GROUP BY ALL) AS q
  ON f.kind = 'lost_job' AND q.system = f.system AND q.job_id = f.job_id
WHERE f.origin = 'serve' AND f.state = 'pending'
"""


def next_due_ns(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, default_within_s: float = DEFAULT_WITHIN_S
) -> int:
    """When the first stored pending finding's grace window closes (0: nothing pending)."""
    rules, within, complete = _windows_params(catalog, default_within_s)
    row = con.execute(
        _NEXT_DUE, {"rules": rules, "within": within, "complete": complete}
    ).fetchall()
    return int(row[0][0]) if row and row[0][0] is not None else 0


def _windows_params(
    catalog: Catalog, default_within_s: float
) -> tuple[list[str], list[int], list[int]]:
    windows = _rule_windows(catalog, default_within_s)
    return [w[0] for w in windows], [w[1] for w in windows], [w[2] for w in windows]


class Incremental:
    """The incremental evaluation of one store, tick after tick."""

    def __init__(
        self,
        catalog: Catalog,
        default_within_s: float = DEFAULT_WITHIN_S,
        horizon_s: float | None = None,
    ) -> None:
        self.catalog = catalog
        self.default_within_s = default_within_s
        self.horizon_ns = round(horizon_for(catalog, default_within_s, horizon_s) * 1e9)
        self._rule_ids = [r.id for r in catalog.enabled_rules()]
        # rules that read spans themselves (expect.span, a jobs.where on the run's span)
        self._reads_spans = any(
            (r.expect is not None and r.expect.span is not None) or r.jobs.where
            for r in catalog.enabled_rules()
        )

    # Compiled on the first tick (the loop's thread), not when serve starts.
    @functools.cached_property
    def signature(self) -> str:
        return signature(self.catalog, self.default_within_s)

    @functools.cached_property
    def _derived(self) -> tuple[tuple[str, str], ...]:
        return derived_sql(tuple(self.catalog.profiles), None, "audit_spans")

    @functools.cached_property
    def _derived_all(self) -> tuple[tuple[str, str], ...]:
        return derived_sql(tuple(self.catalog.profiles), None)

    def due(self, con: duckdb.DuckDBPyConnection, now_ns: int) -> bool:
        """Whether a tick has something to do: new batches, or a pending finding due."""
        batch, sig = read_watermark(con)
        if sig != self.signature or _latest_batch(con) > batch:
            return True
        due = next_due_ns(con, self.catalog, self.default_within_s)
        return bool(due) and due <= now_ns

    def tick(self, con: duckdb.DuckDBPyConnection, now_ns: int) -> Tick:
        """Evaluate what changed since the watermark, as of ``now_ns``; save the findings and
        move the watermark (after the findings: a crash in between re-judges, which is
        idempotent)."""
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        batch, sig = read_watermark(con)
        latest = _latest_batch(con)
        if sig != self.signature:
            return self._full(con, now_ns, latest, seconds)
        new_spans = self._derive_new(con, batch, latest)
        seconds["derive_new"] = time.perf_counter() - started
        started = time.perf_counter()
        traces = self._narrow(con, now_ns, changed=latest > batch)
        seconds["narrow"] = time.perf_counter() - started
        evaluation, saved = self._judge(con, now_ns, _KEEP, _SCOPE)
        _write_watermark(con, latest, self.signature, now_ns)
        seconds.update(evaluation.seconds)
        return Tick(evaluation, saved, latest, False, traces, new_spans, seconds)

    # -- full pass -------------------------------------------------------------------------

    def _full(
        self, con: duckdb.DuckDBPyConnection, now_ns: int, latest: int, seconds: dict[str, float]
    ) -> Tick:
        started = time.perf_counter()
        _reset_kept(con)
        for name, sql in self._derived_all:
            # in time order: a tick's lookups skip the row groups outside its window
            insert = f"INSERT INTO {_kept(name)} SELECT * FROM ({sql}) ORDER BY {_ORDER[name]}"
            if name == "owners":
                _reading(con, {t: _kept(t) for t in _OWNERS_READ}, insert)
            else:
                con.execute(insert)
        seconds["derive_all"] = time.perf_counter() - started
        for t in DERIVED:
            con.execute(f'CREATE OR REPLACE TEMP TABLE "{t.name}" AS SELECT * FROM {_kept(t.name)}')
        evaluation, saved = self._judge(con, now_ns, None, None)
        _write_watermark(con, latest, self.signature, now_ns)
        seconds.update(evaluation.seconds)
        return Tick(evaluation, saved, latest, True, seconds=seconds)

    def _judge(
        self, con: duckdb.DuckDBPyConnection, now_ns: int, keep: str | None, scope: str | None
    ) -> tuple[Evaluation, Saved]:
        """Run the rules over the TEMP derived tables and save the findings, resolving stored
        ones in ``scope`` only (None: every one of the rules)."""
        try:
            evaluation = evaluate(
                con,
                self.catalog,
                as_of_ns=now_ns,
                default_within_s=self.default_within_s,
                derive=False,
                keep=keep,
            )
            saved = save_findings(
                con,
                evaluation.findings,
                "serve",
                naive_utc(from_ns(now_ns)),
                self._rule_ids,
                scope=scope,
            )
        finally:
            self._drop_narrowed(con)
        return evaluation, saved

    # -- step 1: derive the changed traces -------------------------------------------------

    def _derive_new(self, con: duckdb.DuckDBPyConnection, batch: int, latest: int) -> int:
        """Derive again the traces that got spans in batches (batch, latest]; their rows
        replace the kept ones. Leaves ``audit_touched`` (trace_id) and the window
        ``audit_window`` (lo, hi) of the tick."""
        h = self.horizon_ns
        con.execute(
            """CREATE OR REPLACE TEMP TABLE audit_window AS
               SELECT coalesce(epoch_ns(min(min_timestamp)), 0) - $h AS lo,
                      coalesce(epoch_ns(max(max_timestamp)), 0) + $h AS hi
               FROM auditor_batches WHERE batch_id > $from AND batch_id <= $to""",
            {"h": h, "from": batch, "to": latest},
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE audit_touched AS
               SELECT DISTINCT "TraceId" AS trace_id FROM main.otel_traces
               WHERE "BatchId" > $from AND "BatchId" <= $to""",
            {"from": batch, "to": latest},
        )
        if latest <= batch:
            return 0
        self._spans_of_touched(con)
        self._derive_window(con)
        # attempts number a job's runs across traces: derive every trace of a touched job
        extra = con.execute(
            _bounded(
                """INSERT INTO audit_touched
               SELECT DISTINCT k.trace_id FROM derived.job_runs AS k, audit_window AS w
               WHERE k.start_ns BETWEEN w.lo AND w.hi
                 AND k.job_id IN (SELECT job_id FROM audit_d_job_runs)
                 AND k.trace_id NOT IN (SELECT trace_id FROM audit_touched)""",
                _window(con),
            )
        ).fetchall()[0][0]
        if extra:
            self._spans_of_touched(con)
            self._derive_window(con)
        con.begin()
        try:
            for t in DERIVED:
                lo, hi = _window(con)
                in_time = (
                    f"{_TIME[t.name]} BETWEEN {lo - h} AND {hi + h} AND " if t.name in _TIME else ""
                )
                con.execute(
                    f"""DELETE FROM {_kept(t.name)} WHERE {in_time}
                        trace_id IN (SELECT trace_id FROM audit_touched)"""
                )
                con.execute(
                    f'INSERT INTO {_kept(t.name)} SELECT * FROM "audit_d_{t.name}" '
                    f"ORDER BY {_ORDER[t.name]}"
                )
            con.commit()
        except Exception:
            con.rollback()
            raise
        count = con.execute("SELECT count(*) FROM audit_spans").fetchall()[0][0]
        con.execute("DROP TABLE IF EXISTS audit_spans")
        return int(count)

    def _spans_of_touched(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            _bounded(
                """CREATE OR REPLACE TEMP TABLE audit_spans AS
                   SELECT s.* FROM main.otel_traces AS s, audit_window AS w
                   WHERE s."Timestamp" BETWEEN make_timestamp_ns(w.lo) AND make_timestamp_ns(w.hi)
                     AND s."TraceId" IN (SELECT trace_id FROM audit_touched)""",
                _window(con),
            )
        )

    def _derive_window(self, con: duckdb.DuckDBPyConnection) -> None:
        for name, sql in self._derived:
            if name == "owners":
                # it reads the derived tables and the spans by name: here, the window's
                _derive_owners(con, sql)
            else:
                con.execute(f'CREATE OR REPLACE TEMP TABLE "audit_d_{name}" AS {sql}')

    # -- steps 2 and 3: the units, and the narrowed inputs ---------------------------------

    def _narrow(self, con: duckdb.DuckDBPyConnection, now_ns: int, changed: bool) -> int:
        """Make ``audit_traces``, ``audit_keys``, ``audit_jobs`` (the units re-judged) and
        the TEMP derived tables the rules read, holding what those units need."""
        rules, within, complete = _windows_params(self.catalog, self.default_within_s)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE audit_due AS {_DUE}",
            {"rules": rules, "within": within, "complete": complete, "now": now_ns},
        )
        h = self.horizon_ns
        if not changed:
            con.execute("DELETE FROM audit_window")
            con.execute(
                "INSERT INTO audit_window SELECT min(at_ns) - $h, max(at_ns) + $h FROM audit_due",
                {"h": h},
            )
        else:
            con.execute(
                """UPDATE audit_window SET lo = least(lo, (SELECT min(at_ns) - $h FROM audit_due)),
                   hi = greatest(hi, (SELECT max(at_ns) + $h FROM audit_due))""",
                {"h": h},
            )
        window = _window(con)
        for index, statement in enumerate(_NARROW):
            if index == 2 and self._reads_spans:
                # an effect span a rule selects itself names its job by job.id only
                con.execute(_SPAN_JOB_IDS)
            con.execute(_bounded(statement, window))
        if self._reads_spans:
            con.execute(_bounded(_NARROW_SPANS, window))
        return int(con.execute("SELECT count(*) FROM audit_traces").fetchall()[0][0])

    def _drop_narrowed(self, con: duckdb.DuckDBPyConnection) -> None:
        for t in DERIVED:
            con.execute(f'DROP TABLE IF EXISTS temp."{t.name}"')
            con.execute(f'DROP TABLE IF EXISTS temp."audit_d_{t.name}"')
        con.execute("DROP TABLE IF EXISTS temp.otel_traces")


_OWNERS_READ = ("job_runs", "effects", "error_spans")


def _derive_owners(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """``audit_d_owners`` from the window's derived tables and spans."""
    reads = {t: f'"audit_d_{t}"' for t in _OWNERS_READ} | {"otel_traces": "audit_spans"}
    _reading(con, reads, f'CREATE OR REPLACE TEMP TABLE "audit_d_owners" AS {sql}')


def _reading(con: duckdb.DuckDBPyConnection, reads: dict[str, str], statement: str) -> None:
    """Run ``statement`` (the ``owners`` SELECT reads the derived tables and the spans by
    name) with TEMP views named like those tables shadowing them: ``reads`` maps each name to
    the table it reads here."""
    try:
        for name, source in reads.items():
            con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM {source}')
        con.execute(statement)
    finally:
        for name in reads:
            con.execute(f'DROP VIEW IF EXISTS temp."{name}"')


# Window-bounded reads of the kept tables (k: the kept row, w: the tick's window).
def _kept_in_window(name: str) -> str:
    return (
        f"(SELECT k.* FROM {_kept(name)} AS k, audit_window AS w "
        f"WHERE k.{_TIME[name]} BETWEEN w.lo AND w.hi)"
    )


_JR = _kept_in_window("job_runs")
_EF = _kept_in_window("effects")
_EQ = _kept_in_window("enqueues")
_SG = _kept_in_window("signals")
_ER = _kept_in_window("error_spans")

_NARROW = (
    # the job ids the changed traces name (runs, enqueues, signals, effects' job id and key)
    f"""CREATE OR REPLACE TEMP TABLE audit_ids AS
        SELECT job_id FROM {_JR} WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT job_id FROM {_EQ} WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT job_id FROM {_SG} WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT job_id FROM {_EF} WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT effect_key FROM {_EF}
              WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT job_id FROM audit_due WHERE kind = 'lost_job'""",
    "DELETE FROM audit_ids WHERE job_id IS NULL OR job_id = ''",
    # run units: the changed traces, the due ones, the traces linked either way, and the
    # traces of runs of the job ids above
    f"""CREATE OR REPLACE TEMP TABLE audit_traces AS
        SELECT trace_id FROM audit_touched
        UNION SELECT trace_id FROM audit_due WHERE kind <> 'duplicate_effect' AND trace_id <> ''
        UNION SELECT unnest(link_trace_ids) FROM {_JR}
              WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT unnest(link_trace_ids) FROM {_EF}
              WHERE trace_id IN (SELECT trace_id FROM audit_touched)
        UNION SELECT trace_id FROM {_JR}
              WHERE len(link_trace_ids) > 0 AND list_has_any(link_trace_ids,
                    (SELECT list(trace_id) FROM audit_touched))
        UNION SELECT trace_id FROM {_JR} WHERE job_id IN (SELECT job_id FROM audit_ids)""",
    # keys judged for duplicates: those of the effects in the run units, and the due ones
    f"""CREATE OR REPLACE TEMP TABLE audit_keys AS
        SELECT effect_key FROM {_EF} WHERE trace_id IN (SELECT trace_id FROM audit_traces)
        UNION SELECT effect_key FROM audit_due WHERE kind = 'duplicate_effect'""",
    "DELETE FROM audit_keys WHERE effect_key IS NULL OR effect_key = ''",
    # … every effect of those keys, and the runs they may belong to, join the run units
    f"""CREATE OR REPLACE TEMP TABLE audit_key_effects AS
        SELECT * FROM {_EF} WHERE effect_key IN (SELECT effect_key FROM audit_keys)""",
    f"""INSERT INTO audit_traces
        SELECT trace_id FROM audit_key_effects
        UNION SELECT trace_id FROM {_JR} WHERE job_id IN (
            SELECT job_id FROM audit_key_effects UNION SELECT effect_key FROM audit_key_effects)
        EXCEPT SELECT trace_id FROM audit_traces""",
    # lost jobs judged: the job ids of the runs in the units, of the changed traces and due
    f"""CREATE OR REPLACE TEMP TABLE audit_jobs AS
        SELECT job_id FROM {_JR} WHERE trace_id IN (SELECT trace_id FROM audit_traces)
        UNION SELECT job_id FROM audit_ids""",
    # the narrowed inputs: runs of the units (and of the job ids judged for lost jobs) …
    f"""CREATE OR REPLACE TEMP TABLE audit_unit_runs AS
        SELECT * FROM {_JR} WHERE trace_id IN (SELECT trace_id FROM audit_traces)
           OR job_id IN (SELECT job_id FROM audit_jobs)""",
    # … the effects that can correlate with them: same trace, job id or key, linked
    f"""CREATE OR REPLACE TEMP TABLE "effects" AS
        SELECT * FROM {_EF}
        WHERE trace_id IN (SELECT trace_id FROM audit_unit_runs)
           OR job_id IN (SELECT job_id FROM audit_unit_runs)
           OR effect_key IN (SELECT job_id FROM audit_unit_runs)
           OR effect_key IN (SELECT effect_key FROM audit_keys)
           OR trace_id IN (SELECT unnest(link_trace_ids) FROM audit_unit_runs)
           OR (len(link_trace_ids) > 0 AND list_has_any(link_trace_ids,
               (SELECT list(DISTINCT trace_id) FROM audit_unit_runs)))""",
    # … the runs of the effects' traces too (an effect in a trace with no run is an orphan)
    f"""CREATE OR REPLACE TEMP TABLE "job_runs" AS
        SELECT * FROM audit_unit_runs
        UNION ALL SELECT * FROM {_JR}
            WHERE trace_id IN (SELECT trace_id FROM "effects")
              AND trace_id NOT IN (SELECT trace_id FROM audit_unit_runs)""",
    f"""CREATE OR REPLACE TEMP TABLE "enqueues" AS
        SELECT * FROM {_EQ} WHERE job_id IN (SELECT job_id FROM audit_jobs)""",
    f"""CREATE OR REPLACE TEMP TABLE "signals" AS
        SELECT * FROM {_SG} WHERE job_id IN (SELECT job_id FROM audit_jobs)
           OR job_id IN (SELECT job_id FROM "job_runs")""",
    f"""CREATE OR REPLACE TEMP TABLE "error_spans" AS
        SELECT * FROM {_ER} WHERE trace_id IN (SELECT trace_id FROM "job_runs")""",
    # … and the runs the effects and error spans belong to (their traces': not bounded in
    # time, as owners has no time of its own; a hash semi-join on trace_id)
    f"""CREATE OR REPLACE TEMP TABLE "owners" AS
        SELECT * FROM {_kept("owners")} WHERE trace_id IN (
            SELECT trace_id FROM "effects" UNION SELECT trace_id FROM "error_spans")""",
    "DROP TABLE audit_key_effects",
    "DROP TABLE audit_unit_runs",
)

# Rules that read spans themselves (``expect.span``) read the spans of the narrowed runs'
# and effects' traces, and those of traces with no run that name one of their jobs by
# ``job.id`` (a thread the job started outside its context); the job ids such spans name
# count among the changed ones.
_SPAN_JOB_IDS = """
INSERT INTO audit_ids
SELECT DISTINCT json_extract_string("SpanAttributes", '$."job.id"') FROM main.otel_traces
WHERE "BatchId" > (SELECT batch_id FROM auditor_watermarks WHERE name = 'serve')
  AND json_extract_string("SpanAttributes", '$."job.id"') <> ''
EXCEPT SELECT job_id FROM audit_ids
"""
_NARROW_SPANS = """
CREATE OR REPLACE TEMP TABLE otel_traces AS
SELECT s.* FROM main.otel_traces AS s, audit_window AS w
WHERE s."Timestamp" BETWEEN make_timestamp_ns(w.lo) AND make_timestamp_ns(w.hi)
  AND (s."TraceId" IN (SELECT trace_id FROM temp."job_runs"
                       UNION SELECT trace_id FROM temp."effects")
       OR (json_extract_string(s."SpanAttributes", '$."job.id"')
               IN (SELECT job_id FROM temp."job_runs")
           AND s."TraceId" NOT IN (SELECT k.trace_id FROM derived.job_runs AS k
                                   WHERE k.start_ns BETWEEN w.lo AND w.hi)))
"""

# The candidates a tick keeps (of audit_candidates) and the stored findings it may resolve
# (of findings): those of the units it re-judged.
_KEEP = f"""CASE WHEN "check" IN ({", ".join(f"'{c}'" for c in _RUN_CHECKS)})
        THEN trace_id IN (SELECT trace_id FROM audit_traces)
    WHEN "check" = 'at_most_once' THEN effect_key IN (SELECT effect_key FROM audit_keys)
    WHEN "check" = 'complete_within' THEN job_id IN (SELECT job_id FROM audit_jobs)
    ELSE TRUE END"""
_SCOPE = f"""CASE WHEN kind IN ({", ".join(f"'{k}'" for k in _RUN_KINDS)})
        THEN trace_id IN (SELECT trace_id FROM audit_traces)
    WHEN kind = 'duplicate_effect' THEN effect_key IN (SELECT effect_key FROM audit_keys)
    WHEN kind = 'lost_job' THEN job_id IN (SELECT job_id FROM audit_jobs)
    ELSE FALSE END"""
