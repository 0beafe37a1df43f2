-- rule side-effects-at-most-once
-- params {"p1": "*"}
WITH j AS MATERIALIZED (
  SELECT
    "r"."system",
    "r"."job_id",
    "r"."job_name",
    "r"."queue",
    "r"."attempt",
    "r"."outcome",
    "r"."done_ns",
    "r"."start_ns",
    "r"."end_ns",
    "r"."trace_id",
    "r"."span_id",
    "r"."service",
    "r"."signals",
    '' AS "expected"
  FROM "job_runs" AS "r"
  WHERE
    TRUE
), e AS MATERIALIZED (
  SELECT
    "f"."effect_name",
    "f"."effect_key",
    "f"."job_id",
    "f"."system",
    "f"."ok",
    "f"."start_ns",
    "f"."end_ns",
    "f"."trace_id",
    "f"."span_id",
    "f"."span_name",
    "f"."status_message",
    "f"."service",
    COALESCE("o"."run_span_id", '') AS "run_span_id"
  FROM "effects" AS "f"
  LEFT JOIN "owners" AS "o"
    ON "o"."trace_id" = "f"."trace_id" AND "o"."span_id" = "f"."span_id"
  WHERE
    "f"."effect_name" GLOB $p1
), m AS MATERIALIZED (
  SELECT
    "j"."trace_id" AS "j_trace_id",
    "j"."span_id" AS "j_span_id",
    "j"."expected" AS "j_expected",
    "j"."outcome" AS "j_outcome",
    "j"."job_id" AS "j_job_id",
    "j"."system" AS "j_system",
    "e".*
  FROM "j" AS "j"
  JOIN "e" AS "e"
    ON "e"."trace_id" = "j"."trace_id"
  WHERE
    (
      (
        "e"."job_id" <> '' AND "e"."job_id" = "j"."job_id"
      )
      OR (
        "e"."job_id" = '' AND "e"."run_span_id" = "j"."span_id"
      )
    )
  UNION ALL
  SELECT
    "j"."trace_id" AS "j_trace_id",
    "j"."span_id" AS "j_span_id",
    "j"."expected" AS "j_expected",
    "j"."outcome" AS "j_outcome",
    "j"."job_id" AS "j_job_id",
    "j"."system" AS "j_system",
    "e".*
  FROM "j" AS "j"
  JOIN "e" AS "e"
    ON "e"."job_id" = "j"."job_id"
  WHERE
    "e"."job_id" <> ''
    AND (
      "e"."system" = '' OR "e"."system" = "j"."system"
    )
    AND NOT "e"."trace_id" IN (
      SELECT
        "trace_id"
      FROM "job_runs"
    )
)
SELECT
  *
FROM (
  SELECT
    'at_most_once' AS "check",
    MIN("j_system") AS "system",
    STRING_AGG(DISTINCT "j_job_id", ',') AS "job_id",
    '' AS "job_name",
    '' AS "queue",
    CAST(NULL AS BIGINT) AS "attempt",
    CAST(NULL AS BIGINT) AS "done_ns",
    MIN("start_ns") AS "start_ns",
    MAX("end_ns") AS "end_ns",
    MIN("trace_id") AS "trace_id",
    '' AS "span_id",
    MIN("service") AS "service",
    '' AS "signals",
    "effect_name" AS "effect_name",
    "effect_key" AS "effect_key",
    LIST(DISTINCT "d"."trace_id" || '/' || "d"."span_id") AS "related",
    COUNT(DISTINCT "span_id") AS "detail_ns",
    '' AS "note"
  FROM (
    SELECT
      *
    FROM "m"
    WHERE
      "ok"
      AND "effect_key" <> ''
      AND ("effect_name", "effect_key") IN (
        SELECT
          "effect_name",
          "effect_key"
        FROM "m"
        WHERE
          "ok" AND "effect_key" <> ''
        GROUP BY
          "effect_name",
          "effect_key"
        HAVING
          MIN("span_id") <> MAX("span_id")
      )
  ) AS "d"
  GROUP BY
    "effect_name",
    "effect_key"
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
      "j"."system",
      "j"."job_id",
      "j"."job_name"
    FROM "j" AS "j"
    WHERE
      "j"."outcome" = 'done'
  ) AS "judged"
) AS "checks";
