-- rule temporal-workflow-effects-confirmed
-- params {"p1": "temporal"}
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
    TRIM(
      UNNEST(
        CASE
          WHEN STARTS_WITH("r"."expected_effects", '[')
          THEN FROM_JSON("r"."expected_effects", '["VARCHAR"]')
          ELSE STRING_SPLIT("r"."expected_effects", ',')
        END
      )
    ) AS "expected"
  FROM "job_runs" AS "r"
  SEMI JOIN "otel_traces"
    ON "otel_traces"."TraceId" = "r"."trace_id"
    AND "otel_traces"."SpanId" = "r"."span_id"
    AND "otel_traces".SpanName LIKE 'Workflow:%'
  WHERE
    "r"."expected_effects" <> '' AND "r"."system" = $p1
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
    "f"."attributes",
    COALESCE("o"."run_span_id", '') AS "run_span_id"
  FROM "effects" AS "f"
  LEFT JOIN "owners" AS "o"
    ON "o"."trace_id" = "f"."trace_id" AND "o"."span_id" = "f"."span_id"
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
    ON COALESCE("e"."attributes" ->> '$.temporalWorkflowID', '') = "j"."job_id"
  WHERE
    COALESCE("e"."attributes" ->> '$.temporalWorkflowID', '') <> ''
    AND "e"."effect_name" = "j"."expected"
), confirmed AS MATERIALIZED (
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
), failed AS NOT MATERIALIZED (
  SELECT
    "m"."j_trace_id",
    "m"."j_span_id",
    "m"."j_expected",
    "m"."trace_id" || '/' || "m"."span_id" AS "ref",
    "m"."span_name" AS "name",
    "m"."status_message" AS "message",
    "m"."effect_key" AS "key"
  FROM "m" AS "m"
  WHERE
    NOT "m"."ok"
  UNION ALL
  SELECT
    "j"."trace_id" AS "j_trace_id",
    "j"."span_id" AS "j_span_id",
    "j"."expected" AS "j_expected",
    "x"."trace_id" || '/' || "x"."span_id" AS "ref",
    "x"."span_name" AS "name",
    "x"."status_message" AS "message",
    '' AS "key"
  FROM "j" AS "j"
  JOIN "error_spans" AS "x"
    ON "x"."trace_id" = "j"."trace_id"
  LEFT JOIN "owners" AS "o"
    ON "o"."trace_id" = "x"."trace_id" AND "o"."span_id" = "x"."span_id"
  WHERE
    "j"."outcome" = 'done'
    AND "x"."span_id" <> "j"."span_id"
    AND "x"."start_ns" >= "j"."start_ns"
    AND "x"."start_ns" <= "j"."end_ns"
    AND (
      (
        "x"."job_id" <> '' AND "x"."job_id" = "j"."job_id"
      )
      OR (
        "x"."job_id" = '' AND "o"."run_span_id" = "j"."span_id"
      )
    )
), failures AS MATERIALIZED (
  SELECT
    "j_trace_id",
    "j_span_id",
    "j_expected",
    LIST("ref") AS "refs",
    MAX("key") AS "key",
    MIN("name" || ': ' || "message") AS "why"
  FROM "failed"
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
    "j"."expected" AS "effect_name",
    '' AS "effect_key",
    CAST([] AS TEXT[]) AS "related",
    CAST(NULL AS BIGINT) AS "detail_ns",
    '' AS "note"
  FROM "j" AS "j"
  ANTI JOIN "confirmed" AS "c"
    ON "c"."j_trace_id" = "j"."trace_id"
    AND "c"."j_span_id" = "j"."span_id"
    AND "c"."j_expected" = "j"."expected"
  ANTI JOIN "failures" AS "f"
    ON "f"."j_trace_id" = "j"."trace_id"
    AND "f"."j_span_id" = "j"."span_id"
    AND "f"."j_expected" = "j"."expected"
  WHERE
    "j"."outcome" = 'done'
  UNION ALL
  SELECT
    'effect_ok' AS "check",
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
    "j"."expected" AS "effect_name",
    "f"."key" AS "effect_key",
    "f"."refs" AS "related",
    CAST(NULL AS BIGINT) AS "detail_ns",
    "f"."why" AS "note"
  FROM "j" AS "j"
  ANTI JOIN "confirmed" AS "c"
    ON "c"."j_trace_id" = "j"."trace_id"
    AND "c"."j_span_id" = "j"."span_id"
    AND "c"."j_expected" = "j"."expected"
  JOIN "failures" AS "f"
    ON "f"."j_trace_id" = "j"."trace_id"
    AND "f"."j_span_id" = "j"."span_id"
    AND "f"."j_expected" = "j"."expected"
  WHERE
    "j"."outcome" = 'done'
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
