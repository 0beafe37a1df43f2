-- derived table job_runs
SELECT
  "q23"."system",
  "q23"."job_id",
  "q23"."job_name",
  "q23"."queue",
  COALESCE(
    "q23"."attempt",
    ROW_NUMBER() OVER (
      PARTITION BY "q23"."system", "q23"."job_id"
      ORDER BY "q23"."start_ns", "q23"."span_id"
    )
  ) AS "attempt",
  "q23"."outcome",
  "q23"."done_ns",
  "q23"."start_ns",
  "q23"."end_ns",
  "q23"."trace_id",
  "q23"."span_id",
  "q23"."parent_span_id",
  "q23"."service",
  "q23"."span_name",
  "q23"."status",
  "q23"."attributes",
  "q23"."expected_effects",
  "q23"."signals",
  "q23"."link_trace_ids",
  "q23"."batch_id",
  "q23"."profile"
FROM (
  SELECT
    "r22"."system",
    "r22"."job_id",
    "r22"."job_name",
    "r22"."queue",
    "r22"."attempt",
    "r22"."outcome",
    "r22"."done_ns",
    "r22"."start_ns",
    "r22"."end_ns",
    "r22"."trace_id",
    "r22"."span_id",
    "r22"."parent_span_id",
    "r22"."service",
    "r22"."span_name",
    "r22"."status",
    "r22"."attributes",
    "r22"."expected_effects",
    "r22"."signals",
    "r22"."link_trace_ids",
    "r22"."batch_id",
    "r22"."profile",
    "r22"."priority"
  FROM (
    SELECT
      "u21"."system",
      "u21"."job_id",
      "u21"."job_name",
      "u21"."queue",
      "u21"."attempt",
      "u21"."outcome",
      "u21"."done_ns",
      "u21"."start_ns",
      "u21"."end_ns",
      "u21"."trace_id",
      "u21"."span_id",
      "u21"."parent_span_id",
      "u21"."service",
      "u21"."span_name",
      "u21"."status",
      "u21"."attributes",
      "u21"."expected_effects",
      "u21"."signals",
      "u21"."link_trace_ids",
      "u21"."batch_id",
      "u21"."profile",
      "u21"."priority",
      ROW_NUMBER() OVER (
        PARTITION BY "u21"."trace_id", "u21"."span_id"
        ORDER BY "u21"."priority", "u21"."profile"
      ) AS "rn"
    FROM (
      SELECT
        'bullmq' AS "system",
        COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.id"', '') AS "job_id",
        COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.name"', '') AS "job_name",
        COALESCE("s1"."SpanAttributes" ->> '$."bullmq.queue.name"', '') AS "queue",
        TRY_CAST(NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.attempts.made"', ''), '') AS BIGINT) AS "attempt",
        CASE
          WHEN LIST_CONTAINS("s1"."Events.Name", 'job completed')
          THEN 'done'
          WHEN LIST_CONTAINS("s1"."Events.Name", 'job failed')
          AND ("s1"."TraceId", "s1"."SpanId") IN (
            SELECT
              "c2"."TraceId",
              "c2"."ParentSpanId"
            FROM "otel_traces" AS "c2"
            WHERE
              "c2"."SpanName" GLOB 'delay *'
          )
          THEN 'retry'
          WHEN LIST_CONTAINS("s1"."Events.Name", 'job failed')
          THEN 'failed'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s1"."Events.Timestamp", LIST_POSITION("s1"."Events.Name", 'job.done'))
          ),
          EPOCH_NS(
            LIST_EXTRACT("s1"."Events.Timestamp", LIST_POSITION("s1"."Events.Name", 'job completed'))
          ),
          EPOCH_NS("s1"."Timestamp") + "s1"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s1"."Timestamp") AS "start_ns",
        EPOCH_NS("s1"."Timestamp") + "s1"."Duration" AS "end_ns",
        "s1"."TraceId" AS "trace_id",
        "s1"."SpanId" AS "span_id",
        "s1"."ParentSpanId" AS "parent_span_id",
        "s1"."ServiceName" AS "service",
        "s1"."SpanName" AS "span_name",
        "s1"."StatusCode" AS "status",
        "s1"."SpanAttributes" AS "attributes",
        COALESCE("s1"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s1"."Links.TraceId" AS "link_trace_ids",
        "s1"."BatchId" AS "batch_id",
        'bullmq' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s1"
      WHERE
        (
          "s1"."SpanName" GLOB 'process *'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", '"bullmq.job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."bullmq.job.id"'
          ) IS NULL
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
      UNION ALL
      SELECT
        'celery' AS "system",
        COALESCE("s3"."SpanAttributes" ->> '$."messaging.message.id"', '') AS "job_id",
        COALESCE("s3"."SpanAttributes" ->> '$."celery.task_name"', '') AS "job_name",
        COALESCE(
          NULLIF(COALESCE("s3"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
          NULLIF(COALESCE("s3"."SpanAttributes" ->> '$."job.queue"', ''), ''),
          ''
        ) AS "queue",
        TRY_CAST(NULLIF(COALESCE("s3"."SpanAttributes" ->> '$."celery.retries"', ''), '') AS BIGINT) + 1 AS "attempt",
        CASE
          WHEN CONTAINS("s3"."SpanAttributes", '"celery.state":')
          AND COALESCE("s3"."SpanAttributes" ->> '$."celery.state"', '') = 'SUCCESS'
          THEN 'done'
          WHEN CONTAINS("s3"."SpanAttributes", '"celery.state":')
          AND COALESCE("s3"."SpanAttributes" ->> '$."celery.state"', '') = 'FAILURE'
          THEN 'failed'
          WHEN CONTAINS("s3"."SpanAttributes", '"celery.state":')
          AND COALESCE("s3"."SpanAttributes" ->> '$."celery.state"', '') = 'RETRY'
          THEN 'retry'
          WHEN "s3"."StatusCode" = 'Error'
          THEN 'failed'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s3"."Events.Timestamp", LIST_POSITION("s3"."Events.Name", 'job.done'))
          ),
          EPOCH_NS("s3"."Timestamp") + "s3"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s3"."Timestamp") AS "start_ns",
        EPOCH_NS("s3"."Timestamp") + "s3"."Duration" AS "end_ns",
        "s3"."TraceId" AS "trace_id",
        "s3"."SpanId" AS "span_id",
        "s3"."ParentSpanId" AS "parent_span_id",
        "s3"."ServiceName" AS "service",
        "s3"."SpanName" AS "span_name",
        "s3"."StatusCode" AS "status",
        "s3"."SpanAttributes" AS "attributes",
        COALESCE("s3"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        CONCAT_WS(
          ',',
          CASE
            WHEN CONTAINS("s3"."SpanAttributes", '"celery.delivery_info":')
            AND COALESCE("s3"."SpanAttributes" ->> '$."celery.delivery_info"', '') GLOB '*''redelivered'': True*'
            THEN 'redelivered'
          END
        ) AS "signals",
        "s3"."Links.TraceId" AS "link_trace_ids",
        "s3"."BatchId" AS "batch_id",
        'celery' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s3"
      WHERE
        (
          "s3"."SpanName" GLOB 'run/*'
          AND "s3"."SpanKind" IN ('Consumer')
          AND CONTAINS("s3"."SpanAttributes", '"celery.task_name":')
          AND NOT (
            "s3"."SpanAttributes" -> '$."celery.task_name"'
          ) IS NULL
        )
        AND COALESCE("s3"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
      UNION ALL
      SELECT
        COALESCE(
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.system"', ''), ''),
          NULLIF('messaging', ''),
          ''
        ) AS "system",
        COALESCE(
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
          ''
        ) AS "job_id",
        COALESCE(
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
          NULLIF("s4"."SpanName", ''),
          ''
        ) AS "job_name",
        COALESCE(
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
          ''
        ) AS "queue",
        CAST(NULL AS BIGINT) AS "attempt",
        CASE
          WHEN "s4"."StatusCode" = 'Error'
          THEN 'failed'
          WHEN "s4"."SpanName" GLOB '*'
          THEN 'done'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s4"."Events.Timestamp", LIST_POSITION("s4"."Events.Name", 'job.done'))
          ),
          EPOCH_NS("s4"."Timestamp") + "s4"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s4"."Timestamp") AS "start_ns",
        EPOCH_NS("s4"."Timestamp") + "s4"."Duration" AS "end_ns",
        "s4"."TraceId" AS "trace_id",
        "s4"."SpanId" AS "span_id",
        "s4"."ParentSpanId" AS "parent_span_id",
        "s4"."ServiceName" AS "service",
        "s4"."SpanName" AS "span_name",
        "s4"."StatusCode" AS "status",
        "s4"."SpanAttributes" AS "attributes",
        COALESCE("s4"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s4"."Links.TraceId" AS "link_trace_ids",
        "s4"."BatchId" AS "batch_id",
        'messaging' AS "profile",
        90 AS "priority"
      FROM "otel_traces" AS "s4"
      WHERE
        (
          "s4"."SpanKind" IN ('Consumer')
          AND (
            (
              CONTAINS("s4"."SpanAttributes", '"messaging.operation.type":')
              AND COALESCE("s4"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('process', 'deliver')
            )
            OR (
              CONTAINS("s4"."SpanAttributes", '"messaging.operation":')
              AND COALESCE("s4"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('process', 'deliver')
            )
          )
        )
        AND COALESCE(
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
          NULLIF(COALESCE("s4"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
          ''
        ) <> ''
      UNION ALL
      SELECT
        COALESCE("s5"."SpanAttributes" ->> '$."job.system"', '') AS "system",
        COALESCE("s5"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
        COALESCE("s5"."SpanAttributes" ->> '$."job.name"', '') AS "job_name",
        COALESCE("s5"."SpanAttributes" ->> '$."job.queue"', '') AS "queue",
        TRY_CAST(NULLIF(COALESCE("s5"."SpanAttributes" ->> '$."job.attempt"', ''), '') AS BIGINT) AS "attempt",
        CASE
          WHEN CONTAINS("s5"."SpanAttributes", '"job.outcome":')
          AND COALESCE("s5"."SpanAttributes" ->> '$."job.outcome"', '') = 'done'
          THEN 'done'
          WHEN CONTAINS("s5"."SpanAttributes", '"job.outcome":')
          AND COALESCE("s5"."SpanAttributes" ->> '$."job.outcome"', '') = 'failed'
          THEN 'failed'
          WHEN CONTAINS("s5"."SpanAttributes", '"job.outcome":')
          AND COALESCE("s5"."SpanAttributes" ->> '$."job.outcome"', '') = 'retry'
          THEN 'retry'
          WHEN "s5"."StatusCode" = 'Error'
          THEN 'failed'
          WHEN LIST_CONTAINS("s5"."Events.Name", 'job.done')
          THEN 'done'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s5"."Events.Timestamp", LIST_POSITION("s5"."Events.Name", 'job.done'))
          ),
          EPOCH_NS("s5"."Timestamp") + "s5"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s5"."Timestamp") AS "start_ns",
        EPOCH_NS("s5"."Timestamp") + "s5"."Duration" AS "end_ns",
        "s5"."TraceId" AS "trace_id",
        "s5"."SpanId" AS "span_id",
        "s5"."ParentSpanId" AS "parent_span_id",
        "s5"."ServiceName" AS "service",
        "s5"."SpanName" AS "span_name",
        "s5"."StatusCode" AS "status",
        "s5"."SpanAttributes" AS "attributes",
        COALESCE("s5"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s5"."Links.TraceId" AS "link_trace_ids",
        "s5"."BatchId" AS "batch_id",
        'probes' AS "profile",
        50 AS "priority"
      FROM "otel_traces" AS "s5"
      WHERE
        (
          CONTAINS("s5"."SpanAttributes", '"job.system":')
          AND NOT (
            "s5"."SpanAttributes" -> '$."job.system"'
          ) IS NULL
          AND CONTAINS("s5"."SpanAttributes", '"job.id":')
          AND NOT (
            "s5"."SpanAttributes" -> '$."job.id"'
          ) IS NULL
          AND CONTAINS("s5"."SpanAttributes", '"job.name":')
          AND NOT (
            "s5"."SpanAttributes" -> '$."job.name"'
          ) IS NULL
          AND NOT (
            (
              "s5"."SpanName" = 'side_effect.confirm' OR "s5"."SpanKind" IN ('Producer')
            )
          )
        )
        AND COALESCE("s5"."SpanAttributes" ->> '$."job.id"', '') <> ''
      UNION ALL
      SELECT
        'rq' AS "system",
        COALESCE("s6"."SpanAttributes" ->> '$."rq.job.id"', '') AS "job_id",
        COALESCE("s6"."SpanAttributes" ->> '$."rq.job.function"', '') AS "job_name",
        COALESCE("s6"."SpanAttributes" ->> '$."messaging.destination.name"', '') AS "queue",
        CAST(NULL AS BIGINT) AS "attempt",
        CASE
          WHEN ("s6"."TraceId", "s6"."SpanId") IN (
            SELECT
              "c7"."TraceId",
              "c7"."ParentSpanId"
            FROM "otel_traces" AS "c7"
            WHERE
              "c7"."SpanName" GLOB 'handle_job_success *'
          )
          THEN 'done'
          WHEN ("s6"."TraceId", "s6"."SpanId") IN (
            SELECT
              "c8"."TraceId",
              "c8"."ParentSpanId"
            FROM "otel_traces" AS "c8"
            WHERE
              "c8"."SpanName" GLOB 'handle_job_failure *'
          )
          AND (
            ("s6"."TraceId", "s6"."SpanId") IN (
              SELECT
                "c9"."TraceId",
                "c9"."ParentSpanId"
              FROM "otel_traces" AS "c9"
              WHERE
                "c9"."SpanName" GLOB 'publish *'
            )
          )
          THEN 'retry'
          WHEN ("s6"."TraceId", "s6"."SpanId") IN (
            SELECT
              "c10"."TraceId",
              "c10"."ParentSpanId"
            FROM "otel_traces" AS "c10"
            WHERE
              "c10"."SpanName" GLOB 'handle_job_failure *'
          )
          THEN 'failed'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s6"."Events.Timestamp", LIST_POSITION("s6"."Events.Name", 'job.done'))
          ),
          "d12"."v",
          "d14"."v",
          EPOCH_NS("s6"."Timestamp") + "s6"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s6"."Timestamp") AS "start_ns",
        EPOCH_NS("s6"."Timestamp") + "s6"."Duration" AS "end_ns",
        "s6"."TraceId" AS "trace_id",
        "s6"."SpanId" AS "span_id",
        "s6"."ParentSpanId" AS "parent_span_id",
        "s6"."ServiceName" AS "service",
        "s6"."SpanName" AS "span_name",
        "s6"."StatusCode" AS "status",
        "s6"."SpanAttributes" AS "attributes",
        COALESCE("s6"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s6"."Links.TraceId" AS "link_trace_ids",
        "s6"."BatchId" AS "batch_id",
        'rq' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s6"
      LEFT JOIN (
        SELECT
          "c11"."TraceId" AS "trace_id",
          "c11"."ParentSpanId" AS "parent_id",
          MIN(
            EPOCH_NS(
              LIST_EXTRACT("c11"."Events.Timestamp", LIST_POSITION("c11"."Events.Name", 'job.done'))
            )
          ) AS "v"
        FROM "otel_traces" AS "c11"
        WHERE
          LIST_CONTAINS("c11"."Events.Name", 'job.done')
        GROUP BY
          "c11"."TraceId",
          "c11"."ParentSpanId"
      ) AS "d12"
        ON "d12"."trace_id" = "s6"."TraceId" AND "d12"."parent_id" = "s6"."SpanId"
      LEFT JOIN (
        SELECT
          "c13"."TraceId" AS "trace_id",
          "c13"."ParentSpanId" AS "parent_id",
          MIN(EPOCH_NS("c13"."Timestamp")) AS "v"
        FROM "otel_traces" AS "c13"
        WHERE
          "c13"."SpanName" GLOB 'handle_job_success *'
        GROUP BY
          "c13"."TraceId",
          "c13"."ParentSpanId"
      ) AS "d14"
        ON "d14"."trace_id" = "s6"."TraceId" AND "d14"."parent_id" = "s6"."SpanId"
      WHERE
        (
          "s6"."SpanName" GLOB 'consume *'
          AND "s6"."SpanKind" IN ('Consumer')
          AND CONTAINS("s6"."SpanAttributes", '"rq.job.id":')
          AND NOT (
            "s6"."SpanAttributes" -> '$."rq.job.id"'
          ) IS NULL
        )
        AND COALESCE("s6"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
      UNION ALL
      SELECT
        'rq' AS "system",
        COALESCE("s15"."SpanAttributes" ->> '$."rq.job.id"', '') AS "job_id",
        COALESCE("s15"."SpanAttributes" ->> '$."rq.job.function"', '') AS "job_name",
        COALESCE(
          NULLIF(COALESCE("s15"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
          NULLIF("s15"."SpanName", ''),
          ''
        ) AS "queue",
        CAST(NULL AS BIGINT) AS "attempt",
        CASE
          WHEN ("s15"."TraceId", "s15"."ParentSpanId") IN (
            SELECT
              "p16"."TraceId",
              "p16"."SpanId"
            FROM "otel_traces" AS "p16"
            WHERE
              "p16"."SpanName" GLOB 'publish *'
              AND ("p16"."TraceId", "p16"."SpanId") IN (
                SELECT
                  "c17"."TraceId",
                  "c17"."ParentSpanId"
                FROM "otel_traces" AS "c17"
                WHERE
                  "c17"."SpanName" GLOB 'publish *'
              )
          )
          THEN 'retry'
          WHEN "s15"."SpanName" GLOB '*'
          THEN 'failed'
          ELSE 'unknown'
        END AS "outcome",
        EPOCH_NS("s15"."Timestamp") + "s15"."Duration" AS "done_ns",
        EPOCH_NS("s15"."Timestamp") AS "start_ns",
        EPOCH_NS("s15"."Timestamp") + "s15"."Duration" AS "end_ns",
        "s15"."TraceId" AS "trace_id",
        "s15"."SpanId" AS "span_id",
        "s15"."ParentSpanId" AS "parent_span_id",
        "s15"."ServiceName" AS "service",
        "s15"."SpanName" AS "span_name",
        "s15"."StatusCode" AS "status",
        "s15"."SpanAttributes" AS "attributes",
        COALESCE("s15"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        CONCAT_WS(',', CASE WHEN "s15"."SpanName" GLOB '*' THEN 'worker_lost' END) AS "signals",
        "s15"."Links.TraceId" AS "link_trace_ids",
        "s15"."BatchId" AS "batch_id",
        'rq' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s15"
      WHERE
        (
          "s15"."SpanName" GLOB 'handle_job_failure *'
          AND CONTAINS("s15"."SpanAttributes", '"rq.job.id":')
          AND NOT (
            "s15"."SpanAttributes" -> '$."rq.job.id"'
          ) IS NULL
          AND ("s15"."TraceId", "s15"."ParentSpanId") IN (
            SELECT
              "p18"."TraceId",
              "p18"."SpanId"
            FROM "otel_traces" AS "p18"
            WHERE
              "p18"."SpanName" GLOB 'publish *' AND "p18"."SpanKind" IN ('Producer')
          )
        )
        AND COALESCE("s15"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
      UNION ALL
      SELECT
        'sidekiq' AS "system",
        COALESCE("s19"."SpanAttributes" ->> '$."messaging.message_id"', '') AS "job_id",
        COALESCE("s19"."SpanAttributes" ->> '$."messaging.sidekiq.job_class"', '') AS "job_name",
        COALESCE("s19"."SpanAttributes" ->> '$."messaging.destination"', '') AS "queue",
        CAST(NULL AS BIGINT) AS "attempt",
        CASE
          WHEN "s19"."StatusCode" = 'Error'
          THEN 'failed'
          WHEN "s19"."SpanName" GLOB '*'
          THEN 'done'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s19"."Events.Timestamp", LIST_POSITION("s19"."Events.Name", 'job.done'))
          ),
          EPOCH_NS("s19"."Timestamp") + "s19"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s19"."Timestamp") AS "start_ns",
        EPOCH_NS("s19"."Timestamp") + "s19"."Duration" AS "end_ns",
        "s19"."TraceId" AS "trace_id",
        "s19"."SpanId" AS "span_id",
        "s19"."ParentSpanId" AS "parent_span_id",
        "s19"."ServiceName" AS "service",
        "s19"."SpanName" AS "span_name",
        "s19"."StatusCode" AS "status",
        "s19"."SpanAttributes" AS "attributes",
        COALESCE("s19"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s19"."Links.TraceId" AS "link_trace_ids",
        "s19"."BatchId" AS "batch_id",
        'sidekiq' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s19"
      WHERE
        (
          "s19"."SpanKind" IN ('Consumer')
          AND CONTAINS("s19"."SpanAttributes", '"messaging.system":')
          AND COALESCE("s19"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
          AND CONTAINS("s19"."SpanAttributes", '"messaging.message_id":')
          AND NOT (
            "s19"."SpanAttributes" -> '$."messaging.message_id"'
          ) IS NULL
        )
        AND COALESCE("s19"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
      UNION ALL
      SELECT
        'temporal' AS "system",
        CASE
          WHEN COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
          OR COALESCE("s20"."SpanAttributes" ->> '$.temporalActivityID', '') = ''
          THEN ''
          ELSE CONCAT_WS(
            '/',
            COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', ''),
            COALESCE("s20"."SpanAttributes" ->> '$.temporalActivityID', '')
          )
        END AS "job_id",
        COALESCE(
          NULLIF(COALESCE("s20"."SpanAttributes" ->> '$.temporalActivityType', ''), ''),
          NULLIF("s20"."SpanName", ''),
          ''
        ) AS "job_name",
        '' AS "queue",
        CAST(NULL AS BIGINT) AS "attempt",
        CASE
          WHEN "s20"."StatusCode" = 'Error'
          THEN 'failed'
          WHEN "s20"."SpanName" GLOB '*'
          THEN 'done'
          ELSE 'unknown'
        END AS "outcome",
        COALESCE(
          EPOCH_NS(
            LIST_EXTRACT("s20"."Events.Timestamp", LIST_POSITION("s20"."Events.Name", 'job.done'))
          ),
          EPOCH_NS("s20"."Timestamp") + "s20"."Duration"
        ) AS "done_ns",
        EPOCH_NS("s20"."Timestamp") AS "start_ns",
        EPOCH_NS("s20"."Timestamp") + "s20"."Duration" AS "end_ns",
        "s20"."TraceId" AS "trace_id",
        "s20"."SpanId" AS "span_id",
        "s20"."ParentSpanId" AS "parent_span_id",
        "s20"."ServiceName" AS "service",
        "s20"."SpanName" AS "span_name",
        "s20"."StatusCode" AS "status",
        "s20"."SpanAttributes" AS "attributes",
        COALESCE("s20"."SpanAttributes" ->> '$."job.expected_effects"', '') AS "expected_effects",
        '' AS "signals",
        "s20"."Links.TraceId" AS "link_trace_ids",
        "s20"."BatchId" AS "batch_id",
        'temporal' AS "profile",
        10 AS "priority"
      FROM "otel_traces" AS "s20"
      WHERE
        (
          "s20"."SpanName" GLOB 'RunActivity:*'
          AND CONTAINS("s20"."SpanAttributes", '"temporalActivityID":')
          AND NOT (
            "s20"."SpanAttributes" -> '$.temporalActivityID'
          ) IS NULL
        )
        AND CASE
          WHEN COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
          OR COALESCE("s20"."SpanAttributes" ->> '$.temporalActivityID', '') = ''
          THEN ''
          ELSE CONCAT_WS(
            '/',
            COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', ''),
            COALESCE("s20"."SpanAttributes" ->> '$.temporalActivityID', '')
          )
        END <> ''
    ) AS "u21"
  ) AS "r22"
  WHERE
    "r22"."rn" = 1
) AS "q23";

-- derived table enqueues
SELECT
  "r31"."system",
  "r31"."job_id",
  "r31"."job_name",
  "r31"."queue",
  "r31"."enqueued_ns",
  "r31"."trace_id",
  "r31"."span_id",
  "r31"."service",
  "r31"."span_name",
  "r31"."attributes",
  "r31"."batch_id",
  "r31"."profile",
  "r31"."priority"
FROM (
  SELECT
    "u30"."system",
    "u30"."job_id",
    "u30"."job_name",
    "u30"."queue",
    "u30"."enqueued_ns",
    "u30"."trace_id",
    "u30"."span_id",
    "u30"."service",
    "u30"."span_name",
    "u30"."attributes",
    "u30"."batch_id",
    "u30"."profile",
    "u30"."priority",
    ROW_NUMBER() OVER (
      PARTITION BY "u30"."trace_id", "u30"."span_id"
      ORDER BY "u30"."priority", "u30"."profile"
    ) AS "rn"
  FROM (
    SELECT
      'bullmq' AS "system",
      COALESCE("s24"."SpanAttributes" ->> '$."bullmq.job.id"', '') AS "job_id",
      COALESCE("s24"."SpanAttributes" ->> '$."bullmq.job.name"', '') AS "job_name",
      COALESCE("s24"."SpanAttributes" ->> '$."bullmq.queue.name"', '') AS "queue",
      EPOCH_NS("s24"."Timestamp") AS "enqueued_ns",
      "s24"."TraceId" AS "trace_id",
      "s24"."SpanId" AS "span_id",
      "s24"."ServiceName" AS "service",
      "s24"."SpanName" AS "span_name",
      "s24"."SpanAttributes" AS "attributes",
      "s24"."BatchId" AS "batch_id",
      'bullmq' AS "profile",
      10 AS "priority"
    FROM "otel_traces" AS "s24"
    WHERE
      (
        "s24"."SpanName" GLOB 'add *'
        AND "s24"."SpanKind" IN ('Producer')
        AND CONTAINS("s24"."SpanAttributes", '"bullmq.job.id":')
        AND NOT (
          "s24"."SpanAttributes" -> '$."bullmq.job.id"'
        ) IS NULL
      )
      AND COALESCE("s24"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
    UNION ALL
    SELECT
      'celery' AS "system",
      COALESCE("s25"."SpanAttributes" ->> '$."messaging.message.id"', '') AS "job_id",
      COALESCE("s25"."SpanAttributes" ->> '$."celery.task_name"', '') AS "job_name",
      COALESCE("s25"."SpanAttributes" ->> '$."messaging.destination"', '') AS "queue",
      EPOCH_NS("s25"."Timestamp") AS "enqueued_ns",
      "s25"."TraceId" AS "trace_id",
      "s25"."SpanId" AS "span_id",
      "s25"."ServiceName" AS "service",
      "s25"."SpanName" AS "span_name",
      "s25"."SpanAttributes" AS "attributes",
      "s25"."BatchId" AS "batch_id",
      'celery' AS "profile",
      10 AS "priority"
    FROM "otel_traces" AS "s25"
    WHERE
      (
        "s25"."SpanName" GLOB 'apply_async/*'
        AND "s25"."SpanKind" IN ('Producer')
        AND CONTAINS("s25"."SpanAttributes", '"messaging.message.id":')
        AND NOT (
          "s25"."SpanAttributes" -> '$."messaging.message.id"'
        ) IS NULL
      )
      AND COALESCE("s25"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
    UNION ALL
    SELECT
      COALESCE(
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.system"', ''), ''),
        NULLIF('messaging', ''),
        ''
      ) AS "system",
      COALESCE(
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
        ''
      ) AS "job_id",
      COALESCE(
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
        NULLIF("s26"."SpanName", ''),
        ''
      ) AS "job_name",
      COALESCE(
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
        ''
      ) AS "queue",
      EPOCH_NS("s26"."Timestamp") AS "enqueued_ns",
      "s26"."TraceId" AS "trace_id",
      "s26"."SpanId" AS "span_id",
      "s26"."ServiceName" AS "service",
      "s26"."SpanName" AS "span_name",
      "s26"."SpanAttributes" AS "attributes",
      "s26"."BatchId" AS "batch_id",
      'messaging' AS "profile",
      90 AS "priority"
    FROM "otel_traces" AS "s26"
    WHERE
      (
        "s26"."SpanKind" IN ('Producer')
        AND (
          (
            CONTAINS("s26"."SpanAttributes", '"messaging.operation.type":')
            AND COALESCE("s26"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('send', 'publish', 'create')
          )
          OR (
            CONTAINS("s26"."SpanAttributes", '"messaging.operation":')
            AND COALESCE("s26"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('send', 'publish', 'create')
          )
        )
      )
      AND COALESCE(
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
        NULLIF(COALESCE("s26"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
        ''
      ) <> ''
    UNION ALL
    SELECT
      COALESCE("s27"."SpanAttributes" ->> '$."job.system"', '') AS "system",
      COALESCE("s27"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
      COALESCE(
        NULLIF(COALESCE("s27"."SpanAttributes" ->> '$."job.name"', ''), ''),
        NULLIF("s27"."SpanName", ''),
        ''
      ) AS "job_name",
      COALESCE("s27"."SpanAttributes" ->> '$."job.queue"', '') AS "queue",
      EPOCH_NS("s27"."Timestamp") AS "enqueued_ns",
      "s27"."TraceId" AS "trace_id",
      "s27"."SpanId" AS "span_id",
      "s27"."ServiceName" AS "service",
      "s27"."SpanName" AS "span_name",
      "s27"."SpanAttributes" AS "attributes",
      "s27"."BatchId" AS "batch_id",
      'probes' AS "profile",
      50 AS "priority"
    FROM "otel_traces" AS "s27"
    WHERE
      (
        "s27"."SpanKind" IN ('Producer')
        AND CONTAINS("s27"."SpanAttributes", '"job.system":')
        AND NOT (
          "s27"."SpanAttributes" -> '$."job.system"'
        ) IS NULL
        AND CONTAINS("s27"."SpanAttributes", '"job.id":')
        AND NOT (
          "s27"."SpanAttributes" -> '$."job.id"'
        ) IS NULL
      )
      AND COALESCE("s27"."SpanAttributes" ->> '$."job.id"', '') <> ''
    UNION ALL
    SELECT
      'rq' AS "system",
      COALESCE("s28"."SpanAttributes" ->> '$."rq.job.id"', '') AS "job_id",
      COALESCE("s28"."SpanAttributes" ->> '$."rq.job.function"', '') AS "job_name",
      COALESCE("s28"."SpanAttributes" ->> '$."messaging.destination.name"', '') AS "queue",
      EPOCH_NS("s28"."Timestamp") AS "enqueued_ns",
      "s28"."TraceId" AS "trace_id",
      "s28"."SpanId" AS "span_id",
      "s28"."ServiceName" AS "service",
      "s28"."SpanName" AS "span_name",
      "s28"."SpanAttributes" AS "attributes",
      "s28"."BatchId" AS "batch_id",
      'rq' AS "profile",
      10 AS "priority"
    FROM "otel_traces" AS "s28"
    WHERE
      (
        "s28"."SpanName" GLOB 'publish *'
        AND "s28"."SpanKind" IN ('Producer')
        AND CONTAINS("s28"."SpanAttributes", '"rq.job.id":')
        AND NOT (
          "s28"."SpanAttributes" -> '$."rq.job.id"'
        ) IS NULL
      )
      AND COALESCE("s28"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
    UNION ALL
    SELECT
      'sidekiq' AS "system",
      COALESCE("s29"."SpanAttributes" ->> '$."messaging.message_id"', '') AS "job_id",
      COALESCE("s29"."SpanAttributes" ->> '$."messaging.sidekiq.job_class"', '') AS "job_name",
      COALESCE("s29"."SpanAttributes" ->> '$."messaging.destination"', '') AS "queue",
      EPOCH_NS("s29"."Timestamp") AS "enqueued_ns",
      "s29"."TraceId" AS "trace_id",
      "s29"."SpanId" AS "span_id",
      "s29"."ServiceName" AS "service",
      "s29"."SpanName" AS "span_name",
      "s29"."SpanAttributes" AS "attributes",
      "s29"."BatchId" AS "batch_id",
      'sidekiq' AS "profile",
      10 AS "priority"
    FROM "otel_traces" AS "s29"
    WHERE
      (
        "s29"."SpanKind" IN ('Producer')
        AND CONTAINS("s29"."SpanAttributes", '"messaging.system":')
        AND COALESCE("s29"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
        AND CONTAINS("s29"."SpanAttributes", '"messaging.message_id":')
        AND NOT (
          "s29"."SpanAttributes" -> '$."messaging.message_id"'
        ) IS NULL
      )
      AND COALESCE("s29"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
  ) AS "u30"
) AS "r31"
WHERE
  "r31"."rn" = 1;

-- derived table effects
SELECT
  COALESCE("s32"."SpanAttributes" ->> '$."side_effect.name"', '') AS "effect_name",
  COALESCE("s32"."SpanAttributes" ->> '$."side_effect.key"', '') AS "effect_key",
  COALESCE("s32"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
  COALESCE("s32"."SpanAttributes" ->> '$."job.system"', '') AS "system",
  NOT (
    (
      "s32"."StatusCode" = 'Error'
      OR (
        CONTAINS("s32"."SpanAttributes", '"side_effect.status":')
        AND COALESCE("s32"."SpanAttributes" ->> '$."side_effect.status"', '') = 'error'
      )
    )
  ) AS "ok",
  EPOCH_NS("s32"."Timestamp") AS "start_ns",
  EPOCH_NS("s32"."Timestamp") + "s32"."Duration" AS "end_ns",
  "s32"."TraceId" AS "trace_id",
  "s32"."SpanId" AS "span_id",
  "s32"."ParentSpanId" AS "parent_span_id",
  "s32"."ServiceName" AS "service",
  "s32"."SpanName" AS "span_name",
  "s32"."StatusMessage" AS "status_message",
  "s32"."SpanAttributes" AS "attributes",
  "s32"."Links.TraceId" AS "link_trace_ids",
  "s32"."BatchId" AS "batch_id"
FROM "otel_traces" AS "s32"
WHERE
  "s32"."SpanName" = 'side_effect.confirm';

-- derived table signals
SELECT
  "e34"."system" AS "system",
  COALESCE("e34"."ev_attrs" ->> '$."bullmq.job.id"', '') AS "job_id",
  'stalled' AS "signal",
  EPOCH_NS("e34"."ev_time") AS "at_ns",
  "e34"."trace_id" AS "trace_id",
  "e34"."span_id" AS "span_id",
  "e34"."span_name" AS "note"
FROM (
  SELECT
    'bullmq' AS "system",
    UNNEST("s33"."Events.Name") AS "ev_name",
    UNNEST("s33"."Events.Attributes") AS "ev_attrs",
    UNNEST("s33"."Events.Timestamp") AS "ev_time",
    "s33"."TraceId" AS "trace_id",
    "s33"."SpanId" AS "span_id",
    "s33"."SpanName" AS "span_name"
  FROM "otel_traces" AS "s33"
  WHERE
    "s33"."SpanName" GLOB 'moveStalledJobsToWait *'
) AS "e34"
WHERE
  "e34"."ev_name" = 'job stalled';

-- derived table error_spans
SELECT
  "s35"."TraceId" AS "trace_id",
  "s35"."SpanId" AS "span_id",
  "s35"."ParentSpanId" AS "parent_span_id",
  "s35"."SpanName" AS "span_name",
  EPOCH_NS("s35"."Timestamp") AS "start_ns",
  EPOCH_NS("s35"."Timestamp") + "s35"."Duration" AS "end_ns",
  COALESCE("s35"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
  "s35"."StatusMessage" AS "status_message",
  "s35"."ServiceName" AS "service"
FROM "otel_traces" AS "s35"
WHERE
  "s35"."StatusCode" = 'Error';

