"""The rows of the rules' statements → the findings table, in SQL, without a Python object per row.

Called by ``engine.evaluate`` on the connection that ran the rules. Each rule's statement
appended its rows to ``audit_candidates`` (one row per candidate finding, tagged with the
rule's index); ``audit_rule_info`` (registered by the caller) says, per rule index, its id,
severity, labels, whether it is built in, and its grace windows. One statement then makes
``audit_findings``, one row per finding, in report order, with every column of
``findings.table.SCHEMA``:

- **kind** from the check; **state** from the grace windows and the evaluation time
  (``pending`` inside ``within`` / ``complete_within``, else ``open``; no time: ``open``);
- **one lie, one finding.** A lie is its kind and subject: the job (system + id), or, for a
  ``duplicate_effect``, the set of jobs and the effect key (compared as sets, whatever order
  an aggregate listed them in). A built-in pack rule's finding is dropped when a user rule
  reports the same lie, and of several pack rules reporting one lie the first rule in
  catalog order keeps it. User rules are the user's own expectations: each keeps its findings.
  Last, one row per fingerprint (a job owing two declared effects is one finding of its rule);
- a ``duplicate_effect`` names its jobs' names and queues (looked up in ``job_runs``);
- **fingerprint**, **message** (the words of ``findings.messages``, as SQL macros);
- **evidence**: the job run (or enqueue) span, the spans the check pointed at, and, for an
  unconfirmed job, up to three nearest misses (confirmations that almost matched), as a list
  of structs, looked up with joins over all findings at once;
- **json**: the finding as compact JSON text, for ``--format json``.
"""

from __future__ import annotations

import duckdb

from auditor.rules.model import Check

MISSES_PER_FINDING = 3

# Helpers the statements below share: the phrases of findings.messages.
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO audit_short_id(id) AS
    CASE WHEN length(id) > 12 THEN left(id, 8) ELSE id END;
CREATE OR REPLACE TEMP MACRO audit_duration(ns) AS
    CASE WHEN ns / 1e6 < 1 THEN printf('%.0f µs', ns / 1e3)
         WHEN ns / 1e6 < 1000 THEN printf('%.1f ms', ns / 1e6)
         ELSE printf('%.2f s', ns / 1e9) END;
CREATE OR REPLACE TEMP MACRO audit_effect(name) AS
    CASE WHEN name = '' OR regexp_matches(name, '[*?\[]') THEN 'the expected effect'
         ELSE '''' || name || '''' END;
CREATE OR REPLACE TEMP MACRO audit_job(system, name, id) AS
    CASE WHEN name = '' THEN 'job' ELSE name END
    || CASE WHEN id <> '' THEN ' (' || system || ' job ' || audit_short_id(id) || ')'
            ELSE ' (' || system || ')' END;
"""

# the kind of finding each check raises (``rules.model.Check.kind``), as SQL
_KINDS = (
    'CASE c."check" ' + " ".join(f"WHEN '{check}' THEN '{check.kind}'" for check in Check) + " END"
)

_MESSAGE = r"""CASE kind
    WHEN 'unconfirmed_done' THEN audit_job(system, job_name, job_id)
        || ' was marked done, but no ' || audit_effect(effect_name) || ' confirmation was found'
    WHEN 'premature_done' THEN audit_job(system, job_name, job_id) || ' was marked done'
        || coalesce(' ' || audit_duration(detail_ns), '') || ' before its '
        || audit_effect(effect_name) || ' confirmation'
        || CASE WHEN effect_key <> '' THEN ' (key ' || effect_key || ')' ELSE '' END
        || ' finished'
    WHEN 'failed_effect' THEN audit_job(system, job_name, job_id) || ' was marked done, but '
        || audit_effect(effect_name) || ' was not confirmed and a span under it failed'
        || CASE WHEN note <> '' THEN ': ' || note ELSE '' END
    WHEN 'duplicate_effect' THEN audit_effect(effect_name)
        || CASE WHEN effect_key <> '' THEN ' (key ' || effect_key || ')' ELSE '' END
        || ' was confirmed '
        || CASE WHEN coalesce(detail_ns, 0) <> 0 THEN detail_ns::VARCHAR || ' times'
                ELSE 'more than once' END
        || CASE WHEN job_id <> '' THEN ' by ' || system || ' job(s) ' || array_to_string(
                list_transform(string_split(job_id, ','), lambda j: audit_short_id(j)), ', ')
                ELSE '' END
        || ': the side effect was repeated'
    ELSE audit_job(system, job_name, job_id)
        || ' was enqueued but never ran: no run of it was recorded'
        || CASE WHEN signals <> '' THEN '; ' || system || ' reported: '
                || replace(signals, ',', ', ') ELSE '' END
END"""

_FOUND = f"""
CREATE OR REPLACE TEMP TABLE audit_found AS
WITH c AS (
    SELECT c.rule_idx, {_KINDS} AS kind, r.rule_id, r.severity, r.severity_rank, r.builtin,
           r.labels, r.within_ns, r.complete_within_ns,
           coalesce(c.system, '') AS system, coalesce(c.job_id, '') AS job_id,
           coalesce(c.job_name, '') AS job_name, coalesce(c.queue, '') AS queue,
           c.attempt, c.done_ns, c.start_ns, coalesce(c.trace_id, '') AS trace_id,
           coalesce(c.span_id, '') AS span_id, coalesce(c.service, '') AS service,
           coalesce(c.signals, '') AS signals, coalesce(c.effect_name, '') AS effect_name,
           coalesce(c.effect_key, '') AS effect_key, coalesce(c.related, []) AS related,
           c.detail_ns, coalesce(c.note, '') AS note
    FROM audit_candidates AS c JOIN audit_rule_info AS r USING (rule_idx)
    WHERE c."check" NOT IN ('judged', 'judged_count')
),
lies AS (
    SELECT *,
           CASE WHEN kind = 'duplicate_effect'
                THEN concat_ws(chr(31), kind, system, effect_key,
                               array_to_string(list_sort(string_split(job_id, ',')), ','))
                ELSE concat_ws(chr(31), kind, system, job_id) END AS lie,
           left(sha256(concat_ws(chr(31), rule_id, kind,
                CASE WHEN kind = 'duplicate_effect' THEN 'key:' || effect_key
                     ELSE 'job:' || system || ':' || job_id END)), 20) AS fingerprint
    FROM c
),
told AS (SELECT DISTINCT lie FROM lies WHERE NOT builtin),
said AS (
    SELECT * FROM lies
    WHERE NOT builtin OR lie NOT IN (SELECT lie FROM told)
    QUALIFY NOT builtin OR row_number() OVER (PARTITION BY lie ORDER BY rule_idx, effect_name) = 1
),
kept AS (
    SELECT * FROM said
    QUALIFY row_number() OVER (PARTITION BY fingerprint ORDER BY effect_name, job_id) = 1
),
names AS (
    SELECT k.fingerprint,
           string_agg(DISTINCT r.job_name, ',' ORDER BY r.job_name) AS job_name,
           string_agg(DISTINCT r.queue, ',' ORDER BY r.queue) AS queue
    FROM (SELECT fingerprint, system, unnest(string_split(job_id, ',')) AS one
          FROM kept WHERE kind = 'duplicate_effect' AND job_name = '' AND job_id <> '') AS k
    JOIN job_runs AS r ON r.system = k.system AND r.job_id = k.one
    GROUP BY k.fingerprint
)
SELECT row_number() OVER () AS fid, k.* REPLACE (
           CASE WHEN k.job_name = '' THEN coalesce(n.job_name, '') ELSE k.job_name END AS job_name,
           CASE WHEN k.queue = '' THEN coalesce(n.queue, '') ELSE k.queue END AS queue),
       CASE WHEN $as_of IS NULL THEN 'open'
            WHEN kind = 'lost_job' AND start_ns + complete_within_ns > $as_of THEN 'pending'
            WHEN kind IN ('unconfirmed_done', 'failed_effect')
                 AND done_ns + within_ns > $as_of THEN 'pending'
            ELSE 'open' END AS state
FROM kept AS k LEFT JOIN names AS n USING (fingerprint)
"""

# The spans each finding shows: its job run / enqueue span and the spans its check pointed at
# ("trace_id/span_id" texts), with what otel_traces says of them.
_SHOWN = """
WITH refs AS (
    SELECT fid, 0 AS part, CASE WHEN kind = 'lost_job' THEN 'enqueue' ELSE 'job_run' END AS role,
           trace_id AS t, span_id AS s
    FROM audit_found WHERE span_id <> ''
    UNION
    SELECT fid, 1, CASE kind WHEN 'failed_effect' THEN 'failed_span' WHEN 'lost_job' THEN 'signal'
                             ELSE 'effect' END,
           split_part(ref, '/', 1), substr(ref, strpos(ref, '/') + 1)
    FROM (SELECT fid, kind, unnest(related) AS ref FROM audit_found)
    WHERE contains(ref, '/')
)
SELECT r.fid, r.part, 0 AS rank, 0::BIGINT AS distance, r.role, r.t AS trace_id, r.s AS span_id,
       coalesce(o."SpanName", '') AS name, coalesce(o."ServiceName", '') AS service,
       epoch_ns(o."Timestamp") AS start_ns, epoch_ns(o."Timestamp") + o."Duration" AS end_ns,
       coalesce(o."StatusCode", '') AS status, coalesce(o."StatusMessage", '') AS note
FROM refs AS r LEFT JOIN otel_traces AS o ON o."TraceId" = r.t AND o."SpanId" = r.s
"""

# Nearest misses, cheapest first: effects in the job's trace, effects carrying the job's id in
# another trace, and the effect of the expected name that ended closest before and after
# done_at (two ASOF joins: one row each, never a range join over every effect nearby).
_E = "e.trace_id, e.span_id, e.span_name, e.service, e.start_ns, e.end_ns, e.ok, e.effect_name, e.effect_key, e.job_id"
_MISSES = f"""
WITH f AS (
    SELECT fid, trace_id, job_id, coalesce(done_ns, 0) AS done_ns, effect_name
    FROM audit_found WHERE kind = 'unconfirmed_done'
),
c AS (
    SELECT f.fid, f.done_ns, f.effect_name AS wanted, 1 AS rank, {_E}, 'in the job''s trace' AS why
    FROM f JOIN effects AS e ON e.trace_id = f.trace_id
    UNION ALL
    SELECT f.fid, f.done_ns, f.effect_name, 2, {_E}, 'same job id, another trace'
    FROM f JOIN effects AS e ON e.job_id = f.job_id AND e.trace_id <> f.trace_id
    WHERE f.job_id <> ''
    UNION ALL
    SELECT f.fid, f.done_ns, f.effect_name, 3, {_E}, 'nearest in time'
    FROM f ASOF JOIN effects AS e ON e.effect_name = f.effect_name AND f.done_ns >= e.end_ns
    WHERE e.trace_id <> f.trace_id
    UNION ALL
    SELECT f.fid, f.done_ns, f.effect_name, 3, {_E}, 'nearest in time'
    FROM f ASOF JOIN effects AS e ON e.effect_name = f.effect_name AND f.done_ns <= e.end_ns
    WHERE e.trace_id <> f.trace_id
),
best AS (
    SELECT *, end_ns - done_ns AS offset_ns FROM c
    QUALIFY row_number() OVER (PARTITION BY fid ORDER BY rank, abs(end_ns - done_ns), span_id)
            <= {MISSES_PER_FINDING}
)
SELECT fid, 2 AS part, rank, abs(offset_ns) AS distance, 'nearest_miss' AS role, trace_id,
       span_id, span_name AS name, service, start_ns, end_ns,
       CASE WHEN ok THEN 'Ok' ELSE 'Error' END AS status,
       why || ': ' || concat_ws(', ',
           effect_name || ' confirmation',
           CASE WHEN effect_key <> '' THEN 'key ' || effect_key END,
           CASE WHEN job_id <> '' THEN 'job.id ' || audit_short_id(job_id) END,
           CASE WHEN NOT ok THEN 'it failed' END,
           CASE WHEN effect_name <> wanted AND wanted <> '' THEN 'expected ' || wanted END,
           audit_duration(abs(offset_ns)) || CASE WHEN offset_ns >= 0 THEN ' after' ELSE ' before' END
               || ' done') AS note
FROM best
"""

_EVIDENCE_ROW = (
    "struct_pack(role := role, trace_id := trace_id, span_id := span_id, name := name, "
    "service := service, start_ns := start_ns, end_ns := end_ns, status := status, "
    "note := note)"
)

_COLUMNS = """f.rule_id, f.kind, f.severity, f.state, f.system, f.job_id, f.job_name,
    f.effect_key, f.trace_id, {message} AS message, f.span_id, f.queue, f.attempt,
    f.done_ns AS done_at_ns, f.effect_name, f.service, 'new' AS triage,
    coalesce(v.evidence, []) AS evidence, f.labels, f.fingerprint"""


def _findings_sql(evidence: bool) -> str:
    shown = f"SELECT * FROM ({_SHOWN}) UNION ALL SELECT * FROM ({_MISSES})"
    evidence_cte = (
        f"""ev AS (
            SELECT fid, list({_EVIDENCE_ROW} ORDER BY part, rank, distance, trace_id, span_id)
                   AS evidence
            FROM ({shown}) GROUP BY fid
        ),"""
        if evidence
        else "ev AS (SELECT NULL::BIGINT AS fid, NULL AS evidence WHERE false),"
    )
    columns = _COLUMNS.format(message=_MESSAGE.replace("\n", "\n    "))
    return f"""
CREATE OR REPLACE TEMP TABLE audit_findings AS
WITH {evidence_cte}
rows AS (
    SELECT {columns}, f.severity_rank
    FROM audit_found AS f LEFT JOIN ev AS v USING (fid)
)
SELECT *, to_json(struct_pack(rule_id, kind, severity, state, system, job_id, job_name,
        effect_key, trace_id, message, span_id, queue, attempt, done_at_ns, effect_name,
        service, triage, evidence, labels, fingerprint))::VARCHAR AS json
FROM rows
ORDER BY severity_rank DESC, rule_id, kind, system, job_id, effect_key, fingerprint
"""


def make_findings(con: duckdb.DuckDBPyConnection, *, as_of_ns: int | None, evidence: bool) -> None:
    """Make ``audit_findings`` from ``audit_candidates`` and ``audit_rule_info``."""
    con.execute(_MACROS)
    con.execute(_FOUND, {"as_of": as_of_ns})
    con.execute(_findings_sql(evidence))
