-- derived table job_runs
WITH nearby AS MATERIALIZED (
  SELECT
    "nearby"."Events.Name",
    "nearby"."Events.Timestamp",
    "nearby"."ParentSpanId",
    "nearby"."SpanId",
    "nearby"."SpanKind",
    "nearby"."SpanName",
    "nearby"."Timestamp",
    "nearby"."TraceId"
  FROM "otel_traces" AS "nearby"
  WHERE
    (
      "nearby"."SpanName" GLOB 'publish *' AND "nearby"."SpanKind" IN ('Producer')
    )
    OR "nearby"."SpanName" GLOB 'delay *'
    OR "nearby"."SpanName" GLOB 'handle_job_success *'
    OR "nearby"."SpanName" GLOB 'handle_job_failure *'
    OR "nearby"."SpanName" GLOB 'publish *'
    OR LIST_CONTAINS("nearby"."Events.Name", 'job.done')
), n2 AS MATERIALIZED (
  SELECT
    "p3"."TraceId" AS "t",
    "p3"."SpanId" AS "s"
  FROM "nearby" AS "p3"
  WHERE
    "p3"."SpanName" GLOB 'publish *' AND "p3"."SpanKind" IN ('Producer')
), n5 AS MATERIALIZED (
  SELECT
    "c6"."TraceId" AS "t",
    "c6"."ParentSpanId" AS "s"
  FROM "nearby" AS "c6"
  WHERE
    "c6"."SpanName" GLOB 'delay *'
), n7 AS MATERIALIZED (
  SELECT
    "c8"."TraceId" AS "t",
    "c8"."ParentSpanId" AS "s"
  FROM "nearby" AS "c8"
  WHERE
    "c8"."SpanName" GLOB 'handle_job_success *'
), n9 AS MATERIALIZED (
  SELECT
    "c10"."TraceId" AS "t",
    "c10"."ParentSpanId" AS "s"
  FROM "nearby" AS "c10"
  WHERE
    "c10"."SpanName" GLOB 'handle_job_failure *'
), n11 AS MATERIALIZED (
  SELECT
    "c12"."TraceId" AS "t",
    "c12"."ParentSpanId" AS "s"
  FROM "nearby" AS "c12"
  WHERE
    "c12"."SpanName" GLOB 'publish *'
), n17 AS MATERIALIZED (
  SELECT
    "p18"."TraceId" AS "t",
    "p18"."SpanId" AS "s"
  FROM "nearby" AS "p18"
  WHERE
    "p18"."SpanName" GLOB 'publish *'
    AND ("p18"."TraceId", "p18"."SpanId") IN (
      SELECT
        t,
        s
      FROM n11
    )
)
SELECT
  "q19"."system",
  "q19"."job_id",
  "q19"."job_name",
  "q19"."queue",
  COALESCE(
    "q19"."attempt",
    ROW_NUMBER() OVER (
      PARTITION BY "q19"."system", "q19"."job_id"
      ORDER BY "q19"."start_ns", "q19"."span_id"
    )
  ) AS "attempt",
  "q19"."outcome",
  "q19"."done_ns",
  "q19"."start_ns",
  "q19"."end_ns",
  "q19"."trace_id",
  "q19"."span_id",
  "q19"."parent_span_id",
  "q19"."service",
  "q19"."span_name",
  "q19"."status",
  "q19"."attributes",
  "q19"."expected_effects",
  "q19"."signals",
  "q19"."link_trace_ids",
  "q19"."batch_id",
  "q19"."profile"
FROM (
  SELECT
    CASE
      WHEN "c4"."shape" = 1
      THEN 'bullmq'
      WHEN "c4"."shape" = 2
      THEN 'celery'
      WHEN "c4"."shape" IN (3, 4)
      THEN 'rq'
      WHEN "c4"."shape" = 5
      THEN 'sidekiq'
      WHEN "c4"."shape" IN (6, 7, 8)
      THEN 'temporal'
      WHEN "c4"."shape" = 9
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 1), '')
      WHEN "c4"."shape" IN (10, 11)
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 2), ''), ''),
        NULLIF('messaging', ''),
        ''
      )
    END AS "system",
    CASE
      WHEN "c4"."shape" = 1
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 3), '')
      WHEN "c4"."shape" = 2
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 4), '')
      WHEN "c4"."shape" IN (3, 4)
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 5), '')
      WHEN "c4"."shape" = 5
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 6), '')
      WHEN "c4"."shape" = 6
      THEN CASE
        WHEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 7), '') = ''
        OR "c4"."ParentSpanId" = ''
        THEN ''
        ELSE CONCAT_WS('/', COALESCE(LIST_EXTRACT("c4"."attribute_values", 7), ''), "c4"."ParentSpanId")
      END
      WHEN "c4"."shape" IN (7, 8)
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 7), '')
      WHEN "c4"."shape" = 9
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 8), '')
      WHEN "c4"."shape" IN (10, 11)
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 4), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 6), ''), ''),
        ''
      )
    END AS "job_id",
    CASE
      WHEN "c4"."shape" = 1
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 9), '')
      WHEN "c4"."shape" = 2
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 10), '')
      WHEN "c4"."shape" IN (3, 4)
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 11), '')
      WHEN "c4"."shape" = 5
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 12), '')
      WHEN "c4"."shape" = 6
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 13), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 14), ''), ''),
        NULLIF(
          CASE
            WHEN STRPOS("c4"."SpanName", ':') > 0
            THEN SUBSTRING("c4"."SpanName", STRPOS("c4"."SpanName", ':') + 1)
            ELSE "c4"."SpanName"
          END,
          ''
        ),
        ''
      )
      WHEN "c4"."shape" = 7
      THEN CASE
        WHEN STRPOS("c4"."SpanName", ':') > 0
        THEN SUBSTRING("c4"."SpanName", STRPOS("c4"."SpanName", ':') + 1)
        ELSE "c4"."SpanName"
      END
      WHEN "c4"."shape" = 8
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 13), ''), ''),
        NULLIF(
          CASE
            WHEN STRPOS("c4"."SpanName", ':') > 0
            THEN SUBSTRING("c4"."SpanName", STRPOS("c4"."SpanName", ':') + 1)
            ELSE "c4"."SpanName"
          END,
          ''
        ),
        ''
      )
      WHEN "c4"."shape" = 9
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 13), '')
      WHEN "c4"."shape" = 10
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 13), ''), ''),
        NULLIF("c4"."SpanName", ''),
        ''
      )
      WHEN "c4"."shape" = 11
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 13), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 15), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 16), ''), ''),
        NULLIF("c4"."SpanName", ''),
        ''
      )
    END AS "job_name",
    CASE
      WHEN "c4"."shape" = 1
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 17), '')
      WHEN "c4"."shape" = 2
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 16), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 18), ''), ''),
        ''
      )
      WHEN "c4"."shape" = 3
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 15), '')
      WHEN "c4"."shape" = 4
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 15), ''), ''),
        NULLIF("c4"."SpanName", ''),
        ''
      )
      WHEN "c4"."shape" = 5
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 16), '')
      WHEN "c4"."shape" IN (6, 8, 9)
      THEN COALESCE(LIST_EXTRACT("c4"."attribute_values", 18), '')
      WHEN "c4"."shape" = 7
      THEN ''
      WHEN "c4"."shape" = 10
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 18), ''), ''),
        NULLIF("c4"."SpanName", ''),
        ''
      )
      WHEN "c4"."shape" = 11
      THEN COALESCE(
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 18), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 15), ''), ''),
        NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 16), ''), ''),
        ''
      )
    END AS "queue",
    CASE
      WHEN "c4"."shape" = 1
      THEN TRY_CAST(NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 19), ''), '') AS BIGINT)
      WHEN "c4"."shape" = 2
      THEN TRY_CAST(NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 21), ''), '') AS BIGINT) + 1
      WHEN "c4"."shape" IN (3, 4, 5, 7)
      THEN CAST(NULL AS BIGINT)
      WHEN "c4"."shape" IN (6, 8, 9, 10, 11)
      THEN TRY_CAST(NULLIF(COALESCE(LIST_EXTRACT("c4"."attribute_values", 20), ''), '') AS BIGINT)
    END AS "attempt",
    CASE
      WHEN "c4"."shape" = 1
      THEN CASE
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job completed')
        THEN 'done'
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job failed')
        AND ("c4"."TraceId", "c4"."SpanId") IN (
          SELECT
            t,
            s
          FROM n5
        )
        THEN 'retry'
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job failed')
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 2
      THEN CASE
        WHEN CONTAINS("c4"."SpanAttributes", 'celery.state":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 22), '') = 'SUCCESS'
        THEN 'done'
        WHEN CONTAINS("c4"."SpanAttributes", 'celery.state":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 22), '') = 'FAILURE'
        THEN 'failed'
        WHEN CONTAINS("c4"."SpanAttributes", 'celery.state":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 22), '') = 'RETRY'
        THEN 'retry'
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 3
      THEN CASE
        WHEN ("c4"."TraceId", "c4"."SpanId") IN (
          SELECT
            t,
            s
          FROM n7
        )
        THEN 'done'
        WHEN ("c4"."TraceId", "c4"."SpanId") IN (
          SELECT
            t,
            s
          FROM n9
        )
        AND (
          ("c4"."TraceId", "c4"."SpanId") IN (
            SELECT
              t,
              s
            FROM n11
          )
        )
        THEN 'retry'
        WHEN ("c4"."TraceId", "c4"."SpanId") IN (
          SELECT
            t,
            s
          FROM n9
        )
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 4
      THEN CASE
        WHEN ("c4"."TraceId", "c4"."ParentSpanId") IN (
          SELECT
            t,
            s
          FROM n17
        )
        THEN 'retry'
        WHEN "c4"."SpanName" GLOB '*'
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 5
      THEN CASE
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN "c4"."SpanName" GLOB '*'
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 6
      THEN CASE
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'retry'
        THEN 'retry'
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'failed'
        THEN 'failed'
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN "c4"."SpanName" GLOB '*'
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 7
      THEN 'unknown'
      WHEN "c4"."shape" = 8
      THEN CASE
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'failed'
        THEN 'failed'
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job.done')
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" = 9
      THEN CASE
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'done'
        THEN 'done'
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'failed'
        THEN 'failed'
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'retry'
        THEN 'retry'
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job.done')
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c4"."shape" IN (10, 11)
      THEN CASE
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'failed'
        THEN 'failed'
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'retry'
        THEN 'retry'
        WHEN "c4"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN LIST_CONTAINS("c4"."Events.Name", 'job.done')
        THEN 'done'
        WHEN CONTAINS("c4"."SpanAttributes", 'job.outcome":')
        AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 23), '') = 'done'
        THEN 'done'
        WHEN NOT NOT (
          "c4"."SpanAttributes" -> '$."job.expected_effects"'
        ) IS NULL
        AND NOT NOT (
          "c4"."SpanAttributes" -> '$."job.outcome"'
        ) IS NULL
        THEN 'done'
        ELSE 'unknown'
      END
    END AS "outcome",
    CASE
      WHEN "c4"."shape" = 1
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c4"."Events.Timestamp", LIST_POSITION("c4"."Events.Name", 'job.done'))
        ),
        EPOCH_NS(
          LIST_EXTRACT("c4"."Events.Timestamp", LIST_POSITION("c4"."Events.Name", 'job completed'))
        ),
        EPOCH_NS("c4"."Timestamp") + "c4"."Duration"
      )
      WHEN "c4"."shape" IN (2, 5, 6, 8, 9, 10, 11)
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c4"."Events.Timestamp", LIST_POSITION("c4"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c4"."Timestamp") + "c4"."Duration"
      )
      WHEN "c4"."shape" = 3
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c4"."Events.Timestamp", LIST_POSITION("c4"."Events.Name", 'job.done'))
        ),
        "d14"."v",
        "d16"."v",
        EPOCH_NS("c4"."Timestamp") + "c4"."Duration"
      )
      WHEN "c4"."shape" IN (4, 7)
      THEN EPOCH_NS("c4"."Timestamp") + "c4"."Duration"
    END AS "done_ns",
    EPOCH_NS("c4"."Timestamp") AS "start_ns",
    EPOCH_NS("c4"."Timestamp") + "c4"."Duration" AS "end_ns",
    "c4"."TraceId" AS "trace_id",
    "c4"."SpanId" AS "span_id",
    "c4"."ParentSpanId" AS "parent_span_id",
    "c4"."ServiceName" AS "service",
    "c4"."SpanName" AS "span_name",
    "c4"."StatusCode" AS "status",
    "c4"."SpanAttributes" AS "attributes",
    COALESCE(LIST_EXTRACT("c4"."attribute_values", 24), '') AS "expected_effects",
    CASE
      WHEN "c4"."shape" IN (1, 3, 5, 6, 7, 8, 9, 10, 11)
      THEN ''
      WHEN "c4"."shape" = 2
      THEN CONCAT_WS(
        ',',
        CASE
          WHEN CONTAINS("c4"."SpanAttributes", 'celery.delivery_info":')
          AND COALESCE(LIST_EXTRACT("c4"."attribute_values", 25), '') GLOB '*''redelivered'': True*'
          THEN 'redelivered'
        END
      )
      WHEN "c4"."shape" = 4
      THEN CONCAT_WS(',', CASE WHEN "c4"."SpanName" GLOB '*' THEN 'worker_lost' END)
    END AS "signals",
    "c4"."Links.TraceId" AS "link_trace_ids",
    "c4"."BatchId" AS "batch_id",
    CASE
      WHEN "c4"."shape" = 1
      THEN 'bullmq'
      WHEN "c4"."shape" = 2
      THEN 'celery'
      WHEN "c4"."shape" IN (3, 4)
      THEN 'rq'
      WHEN "c4"."shape" = 5
      THEN 'sidekiq'
      WHEN "c4"."shape" IN (6, 7, 8)
      THEN 'temporal'
      WHEN "c4"."shape" = 9
      THEN 'probes'
      WHEN "c4"."shape" IN (10, 11)
      THEN 'messaging'
    END AS "profile"
  FROM (
    SELECT
      "c4".*,
      JSON_EXTRACT_STRING(
        "c4"."SpanAttributes",
        [
          '$."job.system"',
          '$."messaging.system"',
          '$."bullmq.job.id"',
          '$."messaging.message.id"',
          '$."rq.job.id"',
          '$."messaging.message_id"',
          '$.temporalWorkflowID',
          '$."job.id"',
          '$."bullmq.job.name"',
          '$."celery.task_name"',
          '$."rq.job.function"',
          '$."messaging.sidekiq.job_class"',
          '$."job.name"',
          '$.temporalActivityType',
          '$."messaging.destination.name"',
          '$."messaging.destination"',
          '$."bullmq.queue.name"',
          '$."job.queue"',
          '$."bullmq.job.attempts.made"',
          '$."job.attempt"',
          '$."celery.retries"',
          '$."celery.state"',
          '$."job.outcome"',
          '$."job.expected_effects"',
          '$."celery.delivery_info"'
        ]
      ) AS "attribute_values"
    FROM (
      SELECT
        "s1"."Timestamp",
        "s1"."TraceId",
        "s1"."SpanId",
        "s1"."ParentSpanId",
        "s1"."SpanName",
        "s1"."SpanKind",
        "s1"."ServiceName",
        "s1"."ScopeName",
        "s1"."ResourceAttributes",
        "s1"."SpanAttributes",
        "s1"."Duration",
        "s1"."StatusCode",
        "s1"."StatusMessage",
        "s1"."Events.Timestamp",
        "s1"."Events.Name",
        "s1"."Events.Attributes",
        "s1"."Links.TraceId",
        "s1"."BatchId",
        CASE
          WHEN "s1"."SpanName" GLOB 'process *'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", 'bullmq.job.id":')
          AND COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
          THEN 1
          WHEN "s1"."SpanName" GLOB 'run/*'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", 'celery.task_name":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."celery.task_name"'
          ) IS NULL
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
          THEN 2
          WHEN "s1"."SpanName" GLOB 'consume *'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", 'rq.job.id":')
          AND COALESCE("s1"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
          THEN 3
          WHEN "s1"."SpanName" GLOB 'handle_job_failure *'
          AND CONTAINS("s1"."SpanAttributes", 'rq.job.id":')
          AND ("s1"."TraceId", "s1"."ParentSpanId") IN (
            SELECT
              t,
              s
            FROM n2
          )
          AND COALESCE("s1"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
          THEN 4
          WHEN "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", 'messaging.system":')
          AND CONTAINS("s1"."SpanAttributes", 'messaging.message_id":')
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
          THEN 5
          WHEN "s1"."SpanName" GLOB 'RunActivity:*'
          AND CONTAINS("s1"."SpanAttributes", 'temporalActivityID":')
          AND NOT (
            "s1"."SpanAttributes" -> '$.temporalActivityID'
          ) IS NULL
          AND CASE
            WHEN COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
            OR "s1"."ParentSpanId" = ''
            THEN ''
            ELSE CONCAT_WS(
              '/',
              COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', ''),
              "s1"."ParentSpanId"
            )
          END <> ''
          THEN 6
          WHEN "s1"."SpanName" GLOB 'RunWorkflow:*'
          AND CONTAINS("s1"."SpanAttributes", 'temporalWorkflowID":')
          AND COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', '') <> ''
          THEN 7
          WHEN "s1"."SpanName" GLOB 'Workflow:*'
          AND CONTAINS("s1"."SpanAttributes", 'job.id":')
          AND CONTAINS("s1"."SpanAttributes", 'temporalWorkflowID":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.id"'
          ) IS NULL
          AND COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', '') <> ''
          THEN 8
          WHEN NOT (
            (
              "s1"."SpanName" = 'side_effect.confirm'
              OR "s1"."SpanName" = 'side_effect.skip'
              OR "s1"."SpanKind" IN ('Producer')
            )
          )
          AND CONTAINS("s1"."SpanAttributes", 'job.system":')
          AND CONTAINS("s1"."SpanAttributes", 'job.name":')
          AND CONTAINS("s1"."SpanAttributes", 'job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.system"'
          ) IS NULL
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.name"'
          ) IS NULL
          AND COALESCE("s1"."SpanAttributes" ->> '$."job.id"', '') <> ''
          THEN 9
          WHEN "s1"."SpanKind" IN ('Consumer')
          AND "s1"."ScopeName" GLOB 'opentelemetry.instrumentation.pika.*'
          AND CONTAINS("s1"."SpanAttributes", 'messaging.operation":')
          AND CONTAINS("s1"."SpanAttributes", 'messaging.destination":')
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.operation"', '') = 'receive'
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.destination"', '') GLOB 'ctag*'
          AND COALESCE(
            NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
            NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
            ''
          ) <> ''
          THEN 10
          WHEN "s1"."SpanKind" IN ('Consumer')
          AND (
            (
              CONTAINS("s1"."SpanAttributes", 'messaging.operation.type":')
              AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('process', 'deliver', 'receive')
            )
            OR (
              CONTAINS("s1"."SpanAttributes", 'messaging.operation":')
              AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('process', 'deliver', 'receive')
            )
          )
          AND COALESCE(
            NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
            NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
            ''
          ) <> ''
          THEN 11
        END AS "shape"
      FROM "otel_traces" AS "s1"
    ) AS "c4"
    WHERE
      NOT "c4"."shape" IS NULL
  ) AS "c4"
  LEFT JOIN (
    SELECT
      "c13"."TraceId" AS "trace_id",
      "c13"."ParentSpanId" AS "parent_id",
      MIN(
        EPOCH_NS(
          LIST_EXTRACT("c13"."Events.Timestamp", LIST_POSITION("c13"."Events.Name", 'job.done'))
        )
      ) AS "v"
    FROM "nearby" AS "c13"
    WHERE
      LIST_CONTAINS("c13"."Events.Name", 'job.done')
    GROUP BY
      "c13"."TraceId",
      "c13"."ParentSpanId"
  ) AS "d14"
    ON "d14"."trace_id" = "c4"."TraceId" AND "d14"."parent_id" = "c4"."SpanId"
  LEFT JOIN (
    SELECT
      "c15"."TraceId" AS "trace_id",
      "c15"."ParentSpanId" AS "parent_id",
      MIN(EPOCH_NS("c15"."Timestamp")) AS "v"
    FROM "nearby" AS "c15"
    WHERE
      "c15"."SpanName" GLOB 'handle_job_success *'
    GROUP BY
      "c15"."TraceId",
      "c15"."ParentSpanId"
  ) AS "d16"
    ON "d16"."trace_id" = "c4"."TraceId" AND "d16"."parent_id" = "c4"."SpanId"
) AS "q19";

-- derived table enqueues
WITH nearby AS MATERIALIZED (
  SELECT
    "nearby"."SpanId",
    "nearby"."SpanKind",
    "nearby"."TraceId"
  FROM "otel_traces" AS "nearby"
  WHERE
    "nearby"."SpanKind" IN ('Producer')
), n21 AS MATERIALIZED (
  SELECT
    "p22"."TraceId" AS "t",
    "p22"."SpanId" AS "s"
  FROM "nearby" AS "p22"
  WHERE
    "p22"."SpanKind" IN ('Producer')
)
SELECT
  CASE
    WHEN "c23"."shape" = 1
    THEN 'bullmq'
    WHEN "c23"."shape" = 2
    THEN 'celery'
    WHEN "c23"."shape" = 3
    THEN 'rq'
    WHEN "c23"."shape" = 4
    THEN 'sidekiq'
    WHEN "c23"."shape" IN (5, 6)
    THEN 'temporal'
    WHEN "c23"."shape" = 7
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 1), '')
    WHEN "c23"."shape" IN (8, 9)
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 2), ''), ''),
      NULLIF('messaging', ''),
      ''
    )
  END AS "system",
  CASE
    WHEN "c23"."shape" = 1
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 3), '')
    WHEN "c23"."shape" = 2
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 4), '')
    WHEN "c23"."shape" = 3
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 5), '')
    WHEN "c23"."shape" = 4
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 6), '')
    WHEN "c23"."shape" = 5
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 7), '')
    WHEN "c23"."shape" = 6
    THEN CASE
      WHEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 7), '') = ''
      OR "c23"."SpanId" = ''
      THEN ''
      ELSE CONCAT_WS('/', COALESCE(LIST_EXTRACT("c23"."attribute_values", 7), ''), "c23"."SpanId")
    END
    WHEN "c23"."shape" = 7
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 8), '')
    WHEN "c23"."shape" IN (8, 9)
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 4), ''), ''),
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 6), ''), ''),
      ''
    )
  END AS "job_id",
  CASE
    WHEN "c23"."shape" = 1
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 9), '')
    WHEN "c23"."shape" = 2
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 10), '')
    WHEN "c23"."shape" = 3
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 11), '')
    WHEN "c23"."shape" = 4
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 12), '')
    WHEN "c23"."shape" = 5
    THEN CASE
      WHEN STRPOS("c23"."SpanName", ':') > 0
      THEN SUBSTRING("c23"."SpanName", STRPOS("c23"."SpanName", ':') + 1)
      ELSE "c23"."SpanName"
    END
    WHEN "c23"."shape" = 6
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 13), ''), ''),
      NULLIF(
        CASE
          WHEN STRPOS("c23"."SpanName", ':') > 0
          THEN SUBSTRING("c23"."SpanName", STRPOS("c23"."SpanName", ':') + 1)
          ELSE "c23"."SpanName"
        END,
        ''
      ),
      ''
    )
    WHEN "c23"."shape" IN (7, 8)
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 14), ''), ''),
      NULLIF("c23"."SpanName", ''),
      ''
    )
    WHEN "c23"."shape" = 9
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 14), ''), ''),
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 15), ''), ''),
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 16), ''), ''),
      NULLIF("c23"."SpanName", ''),
      ''
    )
  END AS "job_name",
  CASE
    WHEN "c23"."shape" = 1
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 17), '')
    WHEN "c23"."shape" IN (2, 4)
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 16), '')
    WHEN "c23"."shape" = 3
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 15), '')
    WHEN "c23"."shape" IN (5, 6)
    THEN ''
    WHEN "c23"."shape" = 7
    THEN COALESCE(LIST_EXTRACT("c23"."attribute_values", 18), '')
    WHEN "c23"."shape" = 8
    THEN "c23"."SpanName"
    WHEN "c23"."shape" = 9
    THEN COALESCE(
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 18), ''), ''),
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 15), ''), ''),
      NULLIF(COALESCE(LIST_EXTRACT("c23"."attribute_values", 16), ''), ''),
      ''
    )
  END AS "queue",
  EPOCH_NS("c23"."Timestamp") AS "enqueued_ns",
  "c23"."TraceId" AS "trace_id",
  "c23"."SpanId" AS "span_id",
  "c23"."ServiceName" AS "service",
  "c23"."SpanName" AS "span_name",
  "c23"."SpanAttributes" AS "attributes",
  "c23"."BatchId" AS "batch_id",
  CASE
    WHEN "c23"."shape" = 1
    THEN 'bullmq'
    WHEN "c23"."shape" = 2
    THEN 'celery'
    WHEN "c23"."shape" = 3
    THEN 'rq'
    WHEN "c23"."shape" = 4
    THEN 'sidekiq'
    WHEN "c23"."shape" IN (5, 6)
    THEN 'temporal'
    WHEN "c23"."shape" = 7
    THEN 'probes'
    WHEN "c23"."shape" IN (8, 9)
    THEN 'messaging'
  END AS "profile"
FROM (
  SELECT
    "c23".*,
    JSON_EXTRACT_STRING(
      "c23"."SpanAttributes",
      [
        '$."job.system"',
        '$."messaging.system"',
        '$."bullmq.job.id"',
        '$."messaging.message.id"',
        '$."rq.job.id"',
        '$."messaging.message_id"',
        '$.temporalWorkflowID',
        '$."job.id"',
        '$."bullmq.job.name"',
        '$."celery.task_name"',
        '$."rq.job.function"',
        '$."messaging.sidekiq.job_class"',
        '$.temporalActivityType',
        '$."job.name"',
        '$."messaging.destination.name"',
        '$."messaging.destination"',
        '$."bullmq.queue.name"',
        '$."job.queue"'
      ]
    ) AS "attribute_values"
  FROM (
    SELECT
      "s20"."Timestamp",
      "s20"."TraceId",
      "s20"."SpanId",
      "s20"."ParentSpanId",
      "s20"."SpanName",
      "s20"."SpanKind",
      "s20"."ServiceName",
      "s20"."ScopeName",
      "s20"."ResourceAttributes",
      "s20"."SpanAttributes",
      "s20"."Duration",
      "s20"."StatusCode",
      "s20"."StatusMessage",
      "s20"."Events.Timestamp",
      "s20"."Events.Name",
      "s20"."Events.Attributes",
      "s20"."Links.TraceId",
      "s20"."BatchId",
      CASE
        WHEN "s20"."SpanName" GLOB 'add *'
        AND "s20"."SpanKind" IN ('Producer')
        AND CONTAINS("s20"."SpanAttributes", 'bullmq.job.id":')
        AND COALESCE("s20"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
        THEN 1
        WHEN "s20"."SpanName" GLOB 'apply_async/*'
        AND "s20"."SpanKind" IN ('Producer')
        AND CONTAINS("s20"."SpanAttributes", 'messaging.message.id":')
        AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
        THEN 2
        WHEN "s20"."SpanName" GLOB 'publish *'
        AND "s20"."SpanKind" IN ('Producer')
        AND CONTAINS("s20"."SpanAttributes", 'rq.job.id":')
        AND COALESCE("s20"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
        THEN 3
        WHEN "s20"."SpanKind" IN ('Producer')
        AND CONTAINS("s20"."SpanAttributes", 'messaging.system":')
        AND CONTAINS("s20"."SpanAttributes", 'messaging.message_id":')
        AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
        AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
        THEN 4
        WHEN (
          "s20"."SpanName" GLOB 'StartWorkflow:*'
          OR "s20"."SpanName" GLOB 'SignalWithStartWorkflow:*'
        )
        AND "s20"."SpanKind" IN ('Client')
        AND CONTAINS("s20"."SpanAttributes", 'temporalWorkflowID":')
        AND COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', '') <> ''
        THEN 5
        WHEN "s20"."SpanName" GLOB 'StartActivity:*'
        AND "s20"."SpanKind" IN ('Client')
        AND CONTAINS("s20"."SpanAttributes", 'temporalWorkflowID":')
        AND NOT (
          "s20"."SpanAttributes" -> '$.temporalWorkflowID'
        ) IS NULL
        AND CASE
          WHEN COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
          OR "s20"."SpanId" = ''
          THEN ''
          ELSE CONCAT_WS('/', COALESCE("s20"."SpanAttributes" ->> '$.temporalWorkflowID', ''), "s20"."SpanId")
        END <> ''
        THEN 6
        WHEN "s20"."SpanKind" IN ('Producer')
        AND CONTAINS("s20"."SpanAttributes", 'job.system":')
        AND CONTAINS("s20"."SpanAttributes", 'job.id":')
        AND NOT (
          "s20"."SpanAttributes" -> '$."job.system"'
        ) IS NULL
        AND COALESCE("s20"."SpanAttributes" ->> '$."job.id"', '') <> ''
        THEN 7
        WHEN "s20"."SpanKind" IN ('Producer')
        AND "s20"."ScopeName" GLOB 'opentelemetry.instrumentation.pika.*'
        AND CONTAINS("s20"."SpanAttributes", 'messaging.destination":')
        AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.destination"', '') = '(temporary)'
        AND NOT (
          (
            "s20"."StatusCode" = 'Error'
            OR ("s20"."TraceId", "s20"."ParentSpanId") IN (
              SELECT
                t,
                s
              FROM n21
            )
          )
        )
        AND COALESCE(
          NULLIF(COALESCE("s20"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
          NULLIF(COALESCE("s20"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
          ''
        ) <> ''
        THEN 8
        WHEN "s20"."SpanKind" IN ('Producer')
        AND (
          (
            CONTAINS("s20"."SpanAttributes", 'messaging.operation.type":')
            AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('send', 'publish', 'create')
          )
          OR (
            CONTAINS("s20"."SpanAttributes", 'messaging.operation":')
            AND COALESCE("s20"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('send', 'publish', 'create')
          )
          OR (
            "s20"."SpanName" GLOB '* send'
            AND CONTAINS("s20"."SpanAttributes", 'messaging.system":')
            AND NOT (
              "s20"."SpanAttributes" -> '$."messaging.system"'
            ) IS NULL
          )
        )
        AND NOT (
          (
            "s20"."StatusCode" = 'Error'
            OR ("s20"."TraceId", "s20"."ParentSpanId") IN (
              SELECT
                t,
                s
              FROM n21
            )
          )
        )
        AND COALESCE(
          NULLIF(COALESCE("s20"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
          NULLIF(COALESCE("s20"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
          ''
        ) <> ''
        THEN 9
      END AS "shape"
    FROM "otel_traces" AS "s20"
  ) AS "c23"
  WHERE
    NOT "c23"."shape" IS NULL
) AS "c23";

-- derived table effects
SELECT
  COALESCE(LIST_EXTRACT("s24"."attribute_values", 1), '') AS "effect_name",
  COALESCE(LIST_EXTRACT("s24"."attribute_values", 2), '') AS "effect_key",
  COALESCE(LIST_EXTRACT("s24"."attribute_values", 3), '') AS "job_id",
  COALESCE(LIST_EXTRACT("s24"."attribute_values", 4), '') AS "system",
  NOT (
    (
      "s24"."StatusCode" = 'Error'
      OR (
        CONTAINS("s24"."SpanAttributes", 'side_effect.status":')
        AND COALESCE(LIST_EXTRACT("s24"."attribute_values", 5), '') = 'error'
      )
    )
  ) AS "ok",
  EPOCH_NS("s24"."Timestamp") AS "start_ns",
  EPOCH_NS("s24"."Timestamp") + "s24"."Duration" AS "end_ns",
  "s24"."TraceId" AS "trace_id",
  "s24"."SpanId" AS "span_id",
  "s24"."ParentSpanId" AS "parent_span_id",
  "s24"."ServiceName" AS "service",
  "s24"."SpanName" AS "span_name",
  "s24"."StatusMessage" AS "status_message",
  "s24"."SpanAttributes" AS "attributes",
  "s24"."Links.TraceId" AS "link_trace_ids",
  "s24"."BatchId" AS "batch_id"
FROM (
  SELECT
    "s24".*,
    JSON_EXTRACT_STRING(
      "s24"."SpanAttributes",
      [
        '$."side_effect.name"',
        '$."side_effect.key"',
        '$."job.id"',
        '$."job.system"',
        '$."side_effect.status"'
      ]
    ) AS "attribute_values"
  FROM "otel_traces" AS "s24"
  WHERE
    "s24"."SpanName" = 'side_effect.confirm'
) AS "s24"
UNION ALL
SELECT
  COALESCE(LIST_EXTRACT("s25"."attribute_values", 1), '') AS "effect_name",
  '' AS "effect_key",
  COALESCE(LIST_EXTRACT("s25"."attribute_values", 2), '') AS "job_id",
  COALESCE(LIST_EXTRACT("s25"."attribute_values", 3), '') AS "system",
  NOT (
    "s25"."StatusCode" = 'Error'
  ) AS "ok",
  EPOCH_NS("s25"."Timestamp") AS "start_ns",
  EPOCH_NS("s25"."Timestamp") + "s25"."Duration" AS "end_ns",
  "s25"."TraceId" AS "trace_id",
  "s25"."SpanId" AS "span_id",
  "s25"."ParentSpanId" AS "parent_span_id",
  "s25"."ServiceName" AS "service",
  "s25"."SpanName" AS "span_name",
  "s25"."StatusMessage" AS "status_message",
  "s25"."SpanAttributes" AS "attributes",
  "s25"."Links.TraceId" AS "link_trace_ids",
  "s25"."BatchId" AS "batch_id"
FROM (
  SELECT
    "s25".*,
    JSON_EXTRACT_STRING("s25"."SpanAttributes", ['$."side_effect.name"', '$."job.id"', '$."job.system"']) AS "attribute_values"
  FROM "otel_traces" AS "s25"
  WHERE
    "s25"."SpanName" = 'side_effect.skip'
) AS "s25";

-- derived table signals
SELECT
  "e27"."system" AS "system",
  COALESCE("e27"."ev_attrs" ->> '$."bullmq.job.id"', '') AS "job_id",
  'stalled' AS "signal",
  EPOCH_NS("e27"."ev_time") AS "at_ns",
  "e27"."trace_id" AS "trace_id",
  "e27"."span_id" AS "span_id",
  "e27"."span_name" AS "note"
FROM (
  SELECT
    'bullmq' AS "system",
    UNNEST("s26"."Events.Name") AS "ev_name",
    UNNEST("s26"."Events.Attributes") AS "ev_attrs",
    UNNEST("s26"."Events.Timestamp") AS "ev_time",
    "s26"."TraceId" AS "trace_id",
    "s26"."SpanId" AS "span_id",
    "s26"."SpanName" AS "span_name"
  FROM "otel_traces" AS "s26"
  WHERE
    "s26"."SpanName" GLOB 'moveStalledJobsToWait *'
) AS "e27"
WHERE
  "e27"."ev_name" = 'job stalled';

-- derived table error_spans
SELECT
  "s28"."TraceId" AS "trace_id",
  "s28"."SpanId" AS "span_id",
  "s28"."ParentSpanId" AS "parent_span_id",
  "s28"."SpanName" AS "span_name",
  EPOCH_NS("s28"."Timestamp") AS "start_ns",
  EPOCH_NS("s28"."Timestamp") + "s28"."Duration" AS "end_ns",
  COALESCE("s28"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
  "s28"."StatusMessage" AS "status_message",
  "s28"."ServiceName" AS "service"
FROM "otel_traces" AS "s28"
WHERE
  "s28"."StatusCode" = 'Error';

-- derived table owners
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
  FROM (
    SELECT
      "trace_id",
      "span_id",
      "parent_span_id",
      "service",
      "start_ns"
    FROM "effects"
    UNION ALL
    SELECT
      "trace_id",
      "span_id",
      "parent_span_id",
      "service",
      "start_ns"
    FROM "error_spans"
  ) AS "s"
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
) AS "o";

