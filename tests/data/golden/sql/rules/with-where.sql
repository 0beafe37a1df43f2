-- rule with-where
-- params {"p1": "zeta-system", "p2": "zeta.ledger.insert", "p3": 2000000}
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
      "otel_traces".ServiceName = 'zeta-worker' AND "otel_traces".Duration > 1000
    )
  WHERE
    "r"."system" = $p1
), e AS MATERIALIZED (
  WITH chosen AS MATERIALIZED (
    SELECT
      "s"."SpanName" AS "effect_name",
      COALESCE(LIST_EXTRACT("s"."attribute_values", 1), '') AS "effect_key",
      COALESCE(LIST_EXTRACT("s"."attribute_values", 2), '') AS "job_id",
      COALESCE(LIST_EXTRACT("s"."attribute_values", 3), '') AS "system",
      "s"."StatusCode" <> 'Error' AS "ok",
      EPOCH_NS("s"."Timestamp") AS "start_ns",
      EPOCH_NS("s"."Timestamp") + "s"."Duration" AS "end_ns",
      "s"."TraceId" AS "trace_id",
      "s"."SpanId" AS "span_id",
      "s"."SpanName" AS "span_name",
      "s"."StatusMessage" AS "status_message",
      "s"."ServiceName" AS "service",
      "s"."ParentSpanId" AS "parent_span_id"
    FROM (
      SELECT
        "s".*,
        JSON_EXTRACT_STRING("s"."SpanAttributes", ['$."side_effect.key"', '$."job.id"', '$."job.system"']) AS "attribute_values"
      FROM "otel_traces" AS "s"
      WHERE
        "s"."SpanName" = $p2 AND StatusMessage NOT LIKE '%timeout%'
    ) AS "s"
  )
  SELECT
    "x"."effect_name",
    "x"."effect_key",
    "x"."job_id",
    "x"."system",
    "x"."ok",
    "x"."start_ns",
    "x"."end_ns",
    "x"."trace_id",
    "x"."span_id",
    "x"."span_name",
    "x"."status_message",
    "x"."service",
    COALESCE("o"."run_span_id", '') AS "run_span_id"
  FROM "chosen" AS "x"
  LEFT JOIN (
    WITH RECURSIVE o_runs AS MATERIALIZED (
      SELECT DISTINCT
        "trace_id",
        "span_id",
        "service",
        "start_ns",
        "end_ns"
      FROM "job_runs"
    ), o_spans AS MATERIALIZED (
      SELECT DISTINCT
        "s"."trace_id",
        "s"."span_id",
        "s"."parent_span_id",
        "s"."service",
        "s"."start_ns"
      FROM "chosen" AS "s"
      WHERE
        "s"."trace_id" IN (
          SELECT
            "trace_id"
          FROM "o_runs"
        )
    ), o_walk AS (
      SELECT
        "w"."trace_id",
        "w"."span_id",
        "w"."span_id" AS "at_id",
        0 AS "depth"
      FROM "o_spans" AS "w"
      SEMI JOIN "o_runs" AS "r"
        ON "r"."trace_id" = "w"."trace_id" AND "r"."span_id" = "w"."span_id"
      UNION ALL
      SELECT
        "w"."trace_id",
        "w"."span_id",
        "w"."parent_span_id" AS "at_id",
        1 AS "depth"
      FROM "o_spans" AS "w"
      ANTI JOIN "o_runs" AS "r"
        ON "r"."trace_id" = "w"."trace_id" AND "r"."span_id" = "w"."span_id"
      WHERE
        "w"."parent_span_id" <> ''
      UNION ALL
      SELECT
        "w"."trace_id",
        "w"."span_id",
        "p"."ParentSpanId" AS "at_id",
        "w"."depth" + 1 AS "depth"
      FROM "o_walk" AS "w"
      ANTI JOIN "o_runs" AS "r"
        ON "r"."trace_id" = "w"."trace_id" AND "r"."span_id" = "w"."at_id"
      JOIN "otel_traces" AS "p"
        ON "p"."TraceId" = "w"."trace_id" AND "p"."SpanId" = "w"."at_id"
      WHERE
        "w"."depth" < 64 AND "p"."ParentSpanId" <> ''
    ), o_above AS MATERIALIZED (
      SELECT
        "w"."trace_id",
        "w"."span_id",
        ARG_MIN("w"."at_id", "w"."depth") AS "run_span_id"
      FROM "o_walk" AS "w"
      SEMI JOIN "o_runs" AS "r"
        ON "r"."trace_id" = "w"."trace_id" AND "r"."span_id" = "w"."at_id"
      GROUP BY
        "w"."trace_id",
        "w"."span_id"
    )
    SELECT
      "trace_id",
      "span_id",
      "run_span_id"
    FROM (
      SELECT
        "trace_id",
        "span_id",
        "run_span_id"
      FROM "o_above"
      UNION ALL
      SELECT
        "s"."trace_id",
        "s"."span_id",
        "r"."span_id" AS "run_span_id"
      FROM "o_spans" AS "s"
      JOIN "o_runs" AS "r"
        ON "r"."trace_id" = "s"."trace_id"
        AND "r"."service" = "s"."service"
        AND "s"."start_ns" BETWEEN "r"."start_ns" AND "r"."end_ns"
      ANTI JOIN "o_above" AS "a"
        ON "a"."trace_id" = "s"."trace_id" AND "a"."span_id" = "s"."span_id"
      QUALIFY
        ROW_NUMBER() OVER (
          PARTITION BY "s"."trace_id", "s"."span_id"
          ORDER BY "r"."start_ns" DESC, "r"."span_id"
        ) = 1
    ) AS "o"
  ) AS "o"
    ON "o"."trace_id" = "x"."trace_id" AND "o"."span_id" = "x"."span_id"
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
), first_ok AS NOT MATERIALIZED (
  SELECT
    "j_trace_id",
    "j_span_id",
    "j_expected",
    MIN("end_ns") AS "first_end",
    ARG_MIN("m"."trace_id" || '/' || "m"."span_id", "end_ns") AS "ref",
    ARG_MIN("effect_key", "end_ns") AS "key"
  FROM "m" AS "m"
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
    $p2 AS "effect_name",
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
    'before_done' AS "check",
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
    $p2 AS "effect_name",
    "f"."key" AS "effect_key",
    ["f"."ref"] AS "related",
    "f"."first_end" - "j"."done_ns" AS "detail_ns",
    '' AS "note"
  FROM "j" AS "j"
  JOIN "first_ok" AS "f"
    ON "f"."j_trace_id" = "j"."trace_id"
    AND "f"."j_span_id" = "j"."span_id"
    AND "f"."j_expected" = "j"."expected"
  WHERE
    "j"."outcome" = 'done' AND "f"."first_end" > "j"."done_ns" + $p3
  UNION ALL
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
    $p2 AS "effect_name",
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
