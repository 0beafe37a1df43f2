-- The scan benchmark's backlog baseline (bench/scan/backlog.py): bench/scan/baseline.sql with
-- the columns of a finding that a report shows, so that the hand-written side materializes the
-- same finding rows as `audit scan --format json`: rule, kind, system, job id, job name, trace
-- id, effect key and the message, in auditor's words (auditor/findings/messages.py). The checks
-- are baseline.sql's, statement for statement; what is added is marked "report:". Keep the two
-- in step: backlog.py fails when this file's findings differ from auditor's.
-- Statements are separated by ";\n\n"; the last one returns the finding rows (backlog.py
-- writes them to a JSON array with COPY).

CREATE OR REPLACE TEMP TABLE s AS
SELECT "TraceId" AS trace_id, "SpanId" AS span_id, "ParentSpanId" AS parent_id,
       "SpanName" AS name, "SpanKind" AS kind, "StatusCode" AS status,
       epoch_ns("Timestamp") AS start_ns, epoch_ns("Timestamp") + "Duration" AS end_ns,
       "Events.Name" AS ev_names, "Events.Timestamp" AS ev_ts, "SpanAttributes" AS a,
       "StatusMessage" AS status_message  -- report: why a failed span failed
FROM otel_traces
WHERE "StatusCode" = 'Error'
   OR "SpanName" IN ('side_effect.confirm', 'smtp.send', 'perform')
   OR "SpanName" LIKE 'run/%' OR "SpanName" LIKE 'apply_async/%'
   OR "SpanName" LIKE 'consume %' OR "SpanName" LIKE 'publish %'
   OR "SpanName" LIKE 'handle_job_%' OR "SpanName" LIKE 'process %'
   OR "SpanName" LIKE 'add %' OR "SpanName" LIKE 'delay %'
   OR "SpanName" LIKE 'moveStalledJobsToWait %';

CREATE OR REPLACE TEMP TABLE runs AS
WITH rq_children AS (
    SELECT c.trace_id, c.parent_id,
           min(c.start_ns) FILTER (WHERE c.name LIKE 'handle_job_success %') AS success_ns,
           bool_or(c.name LIKE 'handle_job_failure %') AS failure,
           bool_or(c.name LIKE 'handle_job_failure %' AND EXISTS (
               SELECT 1 FROM s AS g WHERE g.trace_id = c.trace_id AND g.parent_id = c.span_id
                                      AND g.name LIKE 'publish %')) AS failure_retried,
           min(epoch_ns(c.ev_ts[list_position(c.ev_names, 'job.done')]))
               FILTER (WHERE list_contains(c.ev_names, 'job.done')) AS child_done_ns
    FROM s AS c
    WHERE c.name LIKE 'handle_job_%' OR list_contains(c.ev_names, 'job.done')
    GROUP BY c.trace_id, c.parent_id
),
bull_delays AS (
    SELECT DISTINCT trace_id, parent_id FROM s WHERE name LIKE 'delay %'
),
producers AS (
    SELECT trace_id, span_id,
           EXISTS (SELECT 1 FROM s AS g WHERE g.trace_id = p.trace_id AND g.parent_id = p.span_id
                                          AND g.name LIKE 'publish %') AS republished
    FROM s AS p WHERE p.kind = 'Producer' AND p.name LIKE 'publish %'
)
SELECT 'celery' AS system, a ->> '$."messaging.message.id"' AS job_id,
       a ->> '$."celery.task_name"' AS job_name, trace_id, span_id, start_ns, end_ns,
       CASE a ->> '$."celery.state"' WHEN 'SUCCESS' THEN 'done' WHEN 'FAILURE' THEN 'failed'
            WHEN 'RETRY' THEN 'retry' ELSE (CASE WHEN status = 'Error' THEN 'failed' ELSE 'unknown' END)
       END AS outcome,
       coalesce(epoch_ns(ev_ts[list_position(ev_names, 'job.done')]), end_ns) AS done_ns,
       a ->> '$."job.expected_effects"' AS expected_effects
FROM s
WHERE kind = 'Consumer' AND name LIKE 'run/%' AND a ->> '$."celery.task_name"' IS NOT NULL
  AND coalesce(a ->> '$."messaging.message.id"', '') <> ''
UNION ALL
SELECT 'rq', r.a ->> '$."rq.job.id"', r.a ->> '$."rq.job.function"', r.trace_id, r.span_id,
       r.start_ns, r.end_ns,
       CASE WHEN k.success_ns IS NOT NULL THEN 'done' WHEN k.failure_retried THEN 'retry'
            WHEN k.failure THEN 'failed' ELSE 'unknown' END,
       coalesce(epoch_ns(r.ev_ts[list_position(r.ev_names, 'job.done')]), k.child_done_ns,
                k.success_ns, r.end_ns),
       r.a ->> '$."job.expected_effects"'
FROM s AS r
LEFT JOIN rq_children AS k ON k.trace_id = r.trace_id AND k.parent_id = r.span_id
WHERE r.kind = 'Consumer' AND r.name LIKE 'consume %' AND coalesce(r.a ->> '$."rq.job.id"', '') <> ''
UNION ALL
-- RQ: the parent worker's failure record of a dead work-horse, under the producer's publish
SELECT 'rq', f.a ->> '$."rq.job.id"', f.a ->> '$."rq.job.function"', f.trace_id, f.span_id,
       f.start_ns, f.end_ns,
       CASE WHEN EXISTS (SELECT 1 FROM s AS g WHERE g.trace_id = f.trace_id
                         AND g.parent_id = f.span_id AND g.name LIKE 'publish %')
            THEN 'retry' ELSE 'failed' END,
       f.end_ns, f.a ->> '$."job.expected_effects"'
FROM s AS f
SEMI JOIN producers AS p ON p.trace_id = f.trace_id AND p.span_id = f.parent_id
WHERE f.name LIKE 'handle_job_failure %' AND coalesce(f.a ->> '$."rq.job.id"', '') <> ''
UNION ALL
SELECT 'bullmq', b.a ->> '$."bullmq.job.id"', b.a ->> '$."bullmq.job.name"', b.trace_id,
       b.span_id, b.start_ns, b.end_ns,
       CASE WHEN list_contains(b.ev_names, 'job completed') THEN 'done'
            WHEN list_contains(b.ev_names, 'job failed') AND d.trace_id IS NOT NULL THEN 'retry'
            WHEN list_contains(b.ev_names, 'job failed') THEN 'failed' ELSE 'unknown' END,
       coalesce(epoch_ns(b.ev_ts[list_position(b.ev_names, 'job.done')]),
                epoch_ns(b.ev_ts[list_position(b.ev_names, 'job completed')]), b.end_ns),
       b.a ->> '$."job.expected_effects"'
FROM s AS b
LEFT JOIN bull_delays AS d ON d.trace_id = b.trace_id AND d.parent_id = b.span_id
WHERE b.kind = 'Consumer' AND b.name LIKE 'process %' AND coalesce(b.a ->> '$."bullmq.job.id"', '') <> '';

CREATE OR REPLACE TEMP TABLE enqueues AS
SELECT CASE WHEN name LIKE 'apply_async/%' THEN 'celery' WHEN name LIKE 'publish %' THEN 'rq'
            ELSE 'bullmq' END AS system,
       coalesce(a ->> '$."messaging.message.id"', a ->> '$."rq.job.id"', a ->> '$."bullmq.job.id"') AS job_id,
       -- report: the enqueued job's name and trace
       coalesce(a ->> '$."celery.task_name"', a ->> '$."rq.job.function"', a ->> '$."bullmq.job.name"') AS job_name,
       trace_id
FROM s
WHERE kind = 'Producer' AND (
      (name LIKE 'apply_async/%' AND a ->> '$."messaging.message.id"' <> '')
   OR (name LIKE 'publish %' AND a ->> '$."rq.job.id"' <> '')
   OR (name LIKE 'add %' AND a ->> '$."bullmq.job.id"' <> ''));

-- the effects every rule may accept: side_effect.confirm spans and the SMTP client spans
CREATE OR REPLACE TEMP TABLE effects AS
SELECT CASE WHEN name = 'smtp.send' THEN 'smtp' ELSE 'confirm' END AS source,
       CASE WHEN name = 'smtp.send' THEN 'smtp.send' ELSE coalesce(a ->> '$."side_effect.name"', '') END AS effect_name,
       coalesce(a ->> '$."side_effect.key"', '') AS effect_key,
       coalesce(a ->> '$."job.id"', '') AS job_id,
       coalesce(a ->> '$."job.system"', '') AS system,
       CASE WHEN name = 'smtp.send' THEN true
            ELSE NOT (status = 'Error' OR coalesce(a ->> '$."side_effect.status"', '') = 'error') END AS ok,
       trace_id, span_id, end_ns, status_message
FROM s
WHERE name = 'side_effect.confirm' OR (name = 'smtp.send' AND kind = 'Client' AND status <> 'Error');

CREATE OR REPLACE TEMP TABLE error_spans AS
SELECT trace_id, span_id, start_ns, coalesce(a ->> '$."job.id"', '') AS job_id,
       name || ': ' || status_message AS why  -- report
FROM s WHERE status = 'Error';

-- (run, effect) pairs: in the run's trace (effects carrying another job's id excluded), or
-- carrying the run's job.id in a trace with no run (a thread the job started); and by job id
CREATE OR REPLACE TEMP TABLE matches AS
SELECT 'trace' AS corr, e.source, r.trace_id AS r_trace, r.span_id AS r_span, r.job_id AS r_job,
       e.effect_name, e.effect_key, e.ok, e.span_id, e.end_ns,
       e.trace_id AS e_trace, e.status_message  -- report
FROM runs AS r JOIN effects AS e ON e.trace_id = r.trace_id
WHERE e.job_id = '' OR e.job_id = r.job_id
UNION ALL
SELECT 'trace', e.source, r.trace_id, r.span_id, r.job_id, e.effect_name, e.effect_key, e.ok,
       e.span_id, e.end_ns, e.trace_id, e.status_message
FROM runs AS r JOIN effects AS e ON e.job_id = r.job_id
ANTI JOIN (SELECT DISTINCT trace_id FROM runs) AS t ON t.trace_id = e.trace_id
WHERE e.job_id <> '' AND (e.system = '' OR e.system = r.system)
UNION ALL
SELECT 'key', e.source, r.trace_id, r.span_id, r.job_id, e.effect_name, e.effect_key, e.ok,
       e.span_id, e.end_ns, e.trace_id, e.status_message
FROM runs AS r JOIN effects AS e ON e.job_id = r.job_id
WHERE e.job_id <> '' AND e.source = 'confirm';

CREATE OR REPLACE TEMP TABLE rule_defs AS
SELECT * FROM (VALUES
    ('celery-email', 'celery', 'shop.send_*', 'trace', 'confirm', 'email.sent', true),
    ('rq-email', 'rq', 'tests.systems.shop.rq_jobs.send_*', 'trace', 'confirm', 'email.sent', true),
    ('bullmq-email', 'bullmq', 'send-*', 'trace', 'confirm', 'email.sent', true),
    ('celery-smtp', 'celery', 'shop.send_*', 'trace', 'smtp', 'smtp.send', true),
    ('rq-smtp', 'rq', 'tests.systems.shop.rq_jobs.send_*', 'trace', 'smtp', 'smtp.send', true),
    ('bullmq-smtp', 'bullmq', 'send-*', 'trace', 'smtp', 'smtp.send', true),
    ('celery-email-by-key', 'celery', 'shop.send_*', 'key', 'confirm', 'email.sent', true),
    ('rq-email-by-key', 'rq', 'tests.systems.shop.rq_jobs.send_*', 'key', 'confirm', 'email.sent', true),
    ('bullmq-email-by-key', 'bullmq', 'send-*', 'key', 'confirm', 'email.sent', true),
    -- the effects pack: every job, any confirmed effect; a glob effect is not specific, so
    -- only failed confirmations (not error spans of the trace) make a failed_effect
    ('side-effects-at-most-once', '*', '*', 'trace', 'confirm', '*', false),
    ('failed-effects-not-swallowed', '*', '*', 'trace', 'confirm', '*', false)
) AS t(rule_id, system, job_glob, corr, source, effect_glob, specific);

CREATE OR REPLACE TEMP TABLE judged AS
SELECT u.rule_id, u.specific, r.*
FROM rule_defs AS u JOIN runs AS r
  ON (u.system = '*' OR r.system = u.system) AND coalesce(r.job_name, '') GLOB u.job_glob;

CREATE OR REPLACE TEMP TABLE m AS
SELECT j.rule_id, x.*
FROM rule_defs AS u
JOIN judged AS j ON j.rule_id = u.rule_id
JOIN matches AS x ON x.corr = u.corr AND x.source = u.source
                 AND x.r_trace = j.trace_id AND x.r_span = j.span_id
WHERE x.effect_name GLOB u.effect_glob;

CREATE OR REPLACE TEMP TABLE unit AS
SELECT j.rule_id, j.system, j.job_id, j.trace_id, j.span_id, j.done_ns, j.specific,
       bool_or(m.ok) AS confirmed, min(m.end_ns) FILTER (WHERE m.ok) AS first_ok_end,
       bool_or(NOT m.ok) AS effect_failed,
       -- report: the job's name, the key of the first confirmation, the failed effects' key and why
       j.job_name, arg_min(m.effect_key, m.end_ns) FILTER (WHERE m.ok) AS first_ok_key,
       max(m.effect_key) FILTER (WHERE NOT m.ok) AS failed_key,
       min(CASE WHEN m.source = 'smtp' THEN 'smtp.send' ELSE 'side_effect.confirm' END
           || ': ' || m.status_message) FILTER (WHERE NOT m.ok) AS failed_why
FROM judged AS j
LEFT JOIN m ON m.rule_id = j.rule_id AND m.r_trace = j.trace_id AND m.r_span = j.span_id
WHERE j.outcome = 'done'
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE swallowed AS
SELECT j.trace_id, j.span_id, min(x.why) AS why  -- report: why (one row per run, as DISTINCT was)
FROM runs AS j JOIN error_spans AS x ON x.trace_id = j.trace_id
WHERE j.outcome = 'done' AND x.span_id <> j.span_id
  AND x.start_ns BETWEEN j.start_ns AND j.end_ns AND (x.job_id = '' OR x.job_id = j.job_id)
GROUP BY j.trace_id, j.span_id;

CREATE OR REPLACE TEMP TABLE user_findings AS
-- report columns after the four of baseline.sql: job_name, trace_id, effect_name (for the
-- message; baseline.sql sets it for duplicates only), effect_key, detail_ns (premature: the gap;
-- duplicate: how many spans), note (failed_effect: the first failed span's "name: message")
WITH f AS (
    SELECT u.*, w.trace_id IS NOT NULL AS swallowed_, w.why AS swallowed_why
    FROM unit AS u
    LEFT JOIN swallowed AS w ON w.trace_id = u.trace_id AND w.span_id = u.span_id
)
SELECT f.rule_id, CASE WHEN f.effect_failed OR (f.specific AND f.swallowed_)
                       THEN 'failed_effect' ELSE 'unconfirmed_done' END AS kind,
       f.system, f.job_id, f.job_name, f.trace_id, d.effect_glob AS effect_name,
       CASE WHEN f.effect_failed OR (f.specific AND f.swallowed_)
            THEN coalesce(f.failed_key, '') ELSE '' END AS effect_key,
       NULL::BIGINT AS detail_ns,
       CASE WHEN f.effect_failed OR (f.specific AND f.swallowed_)
            THEN least(f.failed_why, CASE WHEN f.specific THEN f.swallowed_why END) ELSE '' END AS note
FROM f JOIN rule_defs AS d ON d.rule_id = f.rule_id
WHERE coalesce(f.confirmed, false) = false
  -- failed-effects-not-swallowed checks effect_ok only: no unconfirmed_done of its own
  AND NOT (f.rule_id = 'failed-effects-not-swallowed' AND NOT coalesce(f.effect_failed, false))
  AND f.rule_id <> 'side-effects-at-most-once'
UNION ALL
SELECT u.rule_id, 'premature_done', u.system, u.job_id, u.job_name, u.trace_id, d.effect_glob,
       u.first_ok_key, u.first_ok_end - u.done_ns, ''
FROM unit AS u JOIN rule_defs AS d ON d.rule_id = u.rule_id
WHERE u.first_ok_end > u.done_ns + 2000000
  AND u.rule_id NOT IN ('side-effects-at-most-once', 'failed-effects-not-swallowed')
UNION ALL
SELECT m.rule_id, 'duplicate_effect', min(j.system), string_agg(DISTINCT m.r_job, ','),
       string_agg(DISTINCT j.job_name, ',' ORDER BY j.job_name),  -- report: the jobs' names
       min(m.e_trace), m.effect_name, m.effect_key, count(DISTINCT m.span_id), ''
FROM m JOIN judged AS j ON j.rule_id = m.rule_id AND j.trace_id = m.r_trace AND j.span_id = m.r_span
WHERE m.ok AND m.effect_key <> '' AND m.rule_id <> 'failed-effects-not-swallowed'
GROUP BY m.rule_id, m.effect_name, m.effect_key
HAVING count(DISTINCT m.span_id) > 1
UNION ALL
-- every-job-runs, and the lost-jobs pack per system (dropped below: the user rule says it)
SELECT r.rule_id, 'lost_job', q.system, q.job_id, q.job_name, q.trace_id, '', '', NULL, ''
FROM enqueues AS q
ANTI JOIN runs AS x ON x.system = q.system AND x.job_id = q.job_id
JOIN (VALUES ('every-job-runs', '*'), ('celery-jobs-run', 'celery'), ('rq-jobs-run', 'rq'),
             ('bullmq-jobs-run', 'bullmq')) AS r(rule_id, system)
  ON r.system = '*' OR r.system = q.system
UNION ALL
-- declared-effects-confirmed: jobs that list the effects they must confirm (none here)
SELECT 'declared-effects-confirmed', 'unconfirmed_done', r.system, r.job_id, r.job_name,
       r.trace_id, r.expected, '', NULL, ''
FROM (SELECT *, trim(unnest(string_split(expected_effects, ','))) AS expected
      FROM runs WHERE coalesce(expected_effects, '') <> '' AND outcome = 'done') AS r
ANTI JOIN matches AS x ON x.corr = 'trace' AND x.source = 'confirm' AND x.ok
                      AND x.r_trace = r.trace_id AND x.r_span = r.span_id
                      AND x.effect_name = r.expected;

-- one lie, one finding: a pack rule's finding is dropped when a user rule reports its subject;
-- report: the message of each finding, as auditor/findings/messages.py words it
WITH kept AS (
    SELECT f.*
    FROM user_findings AS f
    WHERE f.rule_id NOT IN ('side-effects-at-most-once', 'failed-effects-not-swallowed',
                            'declared-effects-confirmed', 'celery-jobs-run', 'rq-jobs-run',
                            'bullmq-jobs-run')
       OR NOT EXISTS (
            SELECT 1 FROM user_findings AS u
            WHERE u.rule_id IN ('celery-email', 'rq-email', 'bullmq-email', 'celery-smtp', 'rq-smtp',
                                'bullmq-smtp', 'celery-email-by-key', 'rq-email-by-key',
                                'bullmq-email-by-key', 'every-job-runs')
              AND u.kind = f.kind
              AND CASE WHEN f.kind = 'duplicate_effect'
                       THEN u.effect_name = f.effect_name AND u.effect_key = f.effect_key
                       ELSE u.system = f.system AND u.job_id = f.job_id END)
),
words AS (
    SELECT *,
           coalesce(nullif(job_name, ''), 'job') || ' (' || system
               || CASE WHEN job_id <> '' THEN ' job ' || CASE WHEN length(job_id) > 12
                                                             THEN job_id[1:8] ELSE job_id END
                       ELSE '' END || ')' AS job_label,
           CASE WHEN effect_name <> '' THEN '''' || effect_name || '''' ELSE 'the expected effect' END
               AS effect_words,
           CASE WHEN effect_key <> '' THEN ' (key ' || effect_key || ')' ELSE '' END AS key_words
    FROM kept
)
SELECT rule_id, kind, system, job_id, coalesce(job_name, '') AS job_name,
       coalesce(trace_id, '') AS trace_id, coalesce(effect_key, '') AS effect_key,
       CASE kind
       WHEN 'unconfirmed_done' THEN
           job_label || ' was marked done, but no ' || effect_words || ' confirmation was found'
       WHEN 'premature_done' THEN
           job_label || ' was marked done '
           || CASE WHEN detail_ns / 1e6 < 1 THEN printf('%.0f µs', detail_ns / 1e3)
                   WHEN detail_ns / 1e6 < 1000 THEN printf('%.1f ms', detail_ns / 1e6)
                   ELSE printf('%.2f s', detail_ns / 1e6 / 1000) END
           || ' before its ' || effect_words || ' confirmation' || key_words || ' finished'
       WHEN 'failed_effect' THEN
           job_label || ' was marked done, but ' || effect_words
           || ' was not confirmed and a span under it failed'
           || CASE WHEN coalesce(note, '') <> '' THEN ': ' || note ELSE '' END
       WHEN 'duplicate_effect' THEN
           effect_words || key_words || ' was confirmed '
           || CASE WHEN detail_ns > 0 THEN detail_ns || ' times' ELSE 'more than once' END
           || CASE WHEN job_id <> '' THEN ' by ' || system || ' job(s) ' || array_to_string(
                  list_transform(string_split(job_id, ','),
                                 lambda x: CASE WHEN length(x) > 12 THEN x[1:8] ELSE x END), ', ')
                   ELSE '' END
           || ': the side effect was repeated'
       ELSE job_label || ' was enqueued but never ran: no run of it was recorded'
       END AS message
FROM words
