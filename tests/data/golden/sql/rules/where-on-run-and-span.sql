-- rule where-on-run-and-span
-- params {"p1": "zeta.email.sent"}
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
  SEMI JOIN "otel_traces"
    ON "otel_traces"."TraceId" = "r"."trace_id"
    AND "otel_traces"."SpanId" = "r"."span_id"
    AND (
      "r".queue = 'zeta-queue'
      OR (
        "otel_traces".SpanAttributes ->> '$.zeta.priority'
      ) = 'high'
    )
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
    "f"."effect_name" = $p1
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
), confirmed AS NOT MATERIALIZED (
  SELECT
    "j_trace_id",
    "j_span_id",
    "j_expected"
  FROM "m"
  WHERE
    "ok"
  GROUP BY
    "j_trace_id",
    "j_span_id",
    "j_expected"
)
SELECT
  *
FROM (
  SELECT
    'confirmed' AS "check",
    "j"."system" AS "system",
    "j"."job_id" AS "job_id",
    "j"."job_name" AS "job_name",
    "j"."queue" AS "queue",
    "j"."attempt" AS "attempt",
    "j"."done_ns" AS "done_ns",
    "j"."start_ns" AS "start_ns",
    "j"."end_ns" AS "end_ns",
    "j"."trace_id" AS "trace_id",
    "j"."span_id" AS "span_id",
    "j"."service" AS "service",
    "j"."signals" AS "signals",
    $p1 AS "effect_name",
    '' AS "effect_key",
    CAST([] AS TEXT[]) AS "related",
    CAST(NULL AS BIGINT) AS "detail_ns",
    '' AS "note"
  FROM "j" AS "j"
  ANTI JOIN "confirmed" AS "c"
    ON "c"."j_trace_id" = "j"."trace_id"
    AND "c"."j_span_id" = "j"."span_id"
    AND "c"."j_expected" = "j"."expected"
  WHERE
    "j"."outcome" = 'done'
  UNION ALL
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
  SEMI JOIN "otel_traces"
    ON "otel_traces"."TraceId" = "q"."trace_id"
    AND "otel_traces"."SpanId" = "q"."span_id"
    AND (
      "q".queue = 'zeta-queue'
      OR (
        "otel_traces".SpanAttributes ->> '$.zeta.priority'
      ) = 'high'
    )
  WHERE
    TRUE
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
