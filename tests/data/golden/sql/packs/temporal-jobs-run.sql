-- rule temporal-jobs-run
-- params {"p1": "temporal"}
SELECT
  *
FROM (
  SELECT
    'complete_within' AS "check",
    "q"."system" AS "system",
    "q"."job_id" AS "job_id",
    "q"."job_name" AS "job_name",
    "q"."queue" AS "queue",
    CAST(NULL AS BIGINT) AS "attempt",
    CAST(NULL AS BIGINT) AS "done_ns",
    "q"."enqueued_ns" AS "start_ns",
    "q"."enqueued_ns" AS "end_ns",
    "q"."trace_id" AS "trace_id",
    "q"."span_id" AS "span_id",
    "q"."service" AS "service",
    COALESCE("g"."names", '') AS "signals",
    '' AS "effect_name",
    '' AS "effect_key",
    COALESCE("g"."refs", CAST([] AS TEXT[])) AS "related",
    CAST(NULL AS BIGINT) AS "detail_ns",
    '' AS "note"
  FROM "enqueues" AS "q"
  ANTI JOIN (
    SELECT
      "system",
      "job_id"
    FROM "job_runs"
  ) AS "r"
    ON "r"."system" = "q"."system" AND "r"."job_id" = "q"."job_id"
  LEFT JOIN (
    SELECT
      "system",
      "job_id",
      STRING_AGG(DISTINCT "signal", ',') AS "names",
      LIST("g"."trace_id" || '/' || "g"."span_id") AS "refs"
    FROM "signals" AS "g"
    GROUP BY
      "system",
      "job_id"
  ) AS "g"
    ON "g"."system" = "q"."system" AND "g"."job_id" = "q"."job_id"
  WHERE
    "q"."system" = $p1
  UNION ALL
  SELECT
    'judged_count' AS "check",
    CAST(NULL AS TEXT) AS "system",
    CAST(NULL AS TEXT) AS "job_id",
    CAST(NULL AS TEXT) AS "job_name",
    CAST(NULL AS TEXT) AS "queue",
    CAST(NULL AS BIGINT) AS "attempt",
    CAST(NULL AS BIGINT) AS "done_ns",
    CAST(NULL AS BIGINT) AS "start_ns",
    CAST(NULL AS BIGINT) AS "end_ns",
    CAST(NULL AS TEXT) AS "trace_id",
    CAST(NULL AS TEXT) AS "span_id",
    CAST(NULL AS TEXT) AS "service",
    CAST(NULL AS TEXT) AS "signals",
    CAST(NULL AS TEXT) AS "effect_name",
    CAST(NULL AS TEXT) AS "effect_key",
    CAST(NULL AS TEXT[]) AS "related",
    COUNT(*) AS "detail_ns",
    CAST(NULL AS TEXT) AS "note"
  FROM (
    SELECT DISTINCT
      "q"."system",
      "q"."job_id",
      "q"."job_name"
    FROM "enqueues" AS "q"
    WHERE
      "q"."system" = $p1
  ) AS "judged"
) AS "checks";
