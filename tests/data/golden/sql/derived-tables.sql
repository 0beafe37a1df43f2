-- derived table job_runs
SELECT
  "q15"."system",
  "q15"."job_id",
  "q15"."job_name",
  "q15"."queue",
  COALESCE(
    "q15"."attempt",
    ROW_NUMBER() OVER (
      PARTITION BY "q15"."system", "q15"."job_id"
      ORDER BY "q15"."start_ns", "q15"."span_id"
    )
  ) AS "attempt",
  "q15"."outcome",
  "q15"."done_ns",
  "q15"."start_ns",
  "q15"."end_ns",
  "q15"."trace_id",
  "q15"."span_id",
  "q15"."parent_span_id",
  "q15"."service",
  "q15"."span_name",
  "q15"."status",
  "q15"."attributes",
  "q15"."expected_effects",
  "q15"."signals",
  "q15"."link_trace_ids",
  "q15"."batch_id",
  "q15"."profile"
FROM (
  SELECT
    CASE
      WHEN "c3"."shape" = 1
      THEN 'bullmq'
      WHEN "c3"."shape" = 2
      THEN 'celery'
      WHEN "c3"."shape" = 3
      THEN 'rq'
      WHEN "c3"."shape" = 4
      THEN 'rq'
      WHEN "c3"."shape" = 5
      THEN 'sidekiq'
      WHEN "c3"."shape" = 6
      THEN 'temporal'
      WHEN "c3"."shape" = 7
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.system"', '')
      WHEN "c3"."shape" = 8
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.system"', ''), ''),
        NULLIF('messaging', ''),
        ''
      )
    END AS "system",
    CASE
      WHEN "c3"."shape" = 1
      THEN COALESCE("c3"."SpanAttributes" ->> '$."bullmq.job.id"', '')
      WHEN "c3"."shape" = 2
      THEN COALESCE("c3"."SpanAttributes" ->> '$."messaging.message.id"', '')
      WHEN "c3"."shape" = 3
      THEN COALESCE("c3"."SpanAttributes" ->> '$."rq.job.id"', '')
      WHEN "c3"."shape" = 4
      THEN COALESCE("c3"."SpanAttributes" ->> '$."rq.job.id"', '')
      WHEN "c3"."shape" = 5
      THEN COALESCE("c3"."SpanAttributes" ->> '$."messaging.message_id"', '')
      WHEN "c3"."shape" = 6
      THEN CASE
        WHEN COALESCE("c3"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
        OR COALESCE("c3"."SpanAttributes" ->> '$.temporalActivityID', '') = ''
        THEN ''
        ELSE CONCAT_WS(
          '/',
          COALESCE("c3"."SpanAttributes" ->> '$.temporalWorkflowID', ''),
          COALESCE("c3"."SpanAttributes" ->> '$.temporalActivityID', '')
        )
      END
      WHEN "c3"."shape" = 7
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.id"', '')
      WHEN "c3"."shape" = 8
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
        ''
      )
    END AS "job_id",
    CASE
      WHEN "c3"."shape" = 1
      THEN COALESCE("c3"."SpanAttributes" ->> '$."bullmq.job.name"', '')
      WHEN "c3"."shape" = 2
      THEN COALESCE("c3"."SpanAttributes" ->> '$."celery.task_name"', '')
      WHEN "c3"."shape" = 3
      THEN COALESCE("c3"."SpanAttributes" ->> '$."rq.job.function"', '')
      WHEN "c3"."shape" = 4
      THEN COALESCE("c3"."SpanAttributes" ->> '$."rq.job.function"', '')
      WHEN "c3"."shape" = 5
      THEN COALESCE("c3"."SpanAttributes" ->> '$."messaging.sidekiq.job_class"', '')
      WHEN "c3"."shape" = 6
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$.temporalActivityType', ''), ''),
        NULLIF("c3"."SpanName", ''),
        ''
      )
      WHEN "c3"."shape" = 7
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.name"', '')
      WHEN "c3"."shape" = 8
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
        NULLIF("c3"."SpanName", ''),
        ''
      )
    END AS "job_name",
    CASE
      WHEN "c3"."shape" = 1
      THEN COALESCE("c3"."SpanAttributes" ->> '$."bullmq.queue.name"', '')
      WHEN "c3"."shape" = 2
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."job.queue"', ''), ''),
        ''
      )
      WHEN "c3"."shape" = 3
      THEN COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination.name"', '')
      WHEN "c3"."shape" = 4
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
        NULLIF("c3"."SpanName", ''),
        ''
      )
      WHEN "c3"."shape" = 5
      THEN COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination"', '')
      WHEN "c3"."shape" = 6
      THEN ''
      WHEN "c3"."shape" = 7
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.queue"', '')
      WHEN "c3"."shape" = 8
      THEN COALESCE(
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
        NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
        ''
      )
    END AS "queue",
    CASE
      WHEN "c3"."shape" = 1
      THEN TRY_CAST(NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."bullmq.job.attempts.made"', ''), '') AS BIGINT)
      WHEN "c3"."shape" = 2
      THEN TRY_CAST(NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."celery.retries"', ''), '') AS BIGINT) + 1
      WHEN "c3"."shape" = 3
      THEN CAST(NULL AS BIGINT)
      WHEN "c3"."shape" = 4
      THEN CAST(NULL AS BIGINT)
      WHEN "c3"."shape" = 5
      THEN CAST(NULL AS BIGINT)
      WHEN "c3"."shape" = 6
      THEN CAST(NULL AS BIGINT)
      WHEN "c3"."shape" = 7
      THEN TRY_CAST(NULLIF(COALESCE("c3"."SpanAttributes" ->> '$."job.attempt"', ''), '') AS BIGINT)
      WHEN "c3"."shape" = 8
      THEN CAST(NULL AS BIGINT)
    END AS "attempt",
    CASE
      WHEN "c3"."shape" = 1
      THEN CASE
        WHEN LIST_CONTAINS("c3"."Events.Name", 'job completed')
        THEN 'done'
        WHEN LIST_CONTAINS("c3"."Events.Name", 'job failed')
        AND ("c3"."TraceId", "c3"."SpanId") IN (
          SELECT
            "c4"."TraceId",
            "c4"."ParentSpanId"
          FROM "otel_traces" AS "c4"
          WHERE
            "c4"."SpanName" GLOB 'delay *'
        )
        THEN 'retry'
        WHEN LIST_CONTAINS("c3"."Events.Name", 'job failed')
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 2
      THEN CASE
        WHEN CONTAINS("c3"."SpanAttributes", '"celery.state":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."celery.state"', '') = 'SUCCESS'
        THEN 'done'
        WHEN CONTAINS("c3"."SpanAttributes", '"celery.state":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."celery.state"', '') = 'FAILURE'
        THEN 'failed'
        WHEN CONTAINS("c3"."SpanAttributes", '"celery.state":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."celery.state"', '') = 'RETRY'
        THEN 'retry'
        WHEN "c3"."StatusCode" = 'Error'
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 3
      THEN CASE
        WHEN ("c3"."TraceId", "c3"."SpanId") IN (
          SELECT
            "c5"."TraceId",
            "c5"."ParentSpanId"
          FROM "otel_traces" AS "c5"
          WHERE
            "c5"."SpanName" GLOB 'handle_job_success *'
        )
        THEN 'done'
        WHEN ("c3"."TraceId", "c3"."SpanId") IN (
          SELECT
            "c6"."TraceId",
            "c6"."ParentSpanId"
          FROM "otel_traces" AS "c6"
          WHERE
            "c6"."SpanName" GLOB 'handle_job_failure *'
        )
        AND (
          ("c3"."TraceId", "c3"."SpanId") IN (
            SELECT
              "c7"."TraceId",
              "c7"."ParentSpanId"
            FROM "otel_traces" AS "c7"
            WHERE
              "c7"."SpanName" GLOB 'publish *'
          )
        )
        THEN 'retry'
        WHEN ("c3"."TraceId", "c3"."SpanId") IN (
          SELECT
            "c8"."TraceId",
            "c8"."ParentSpanId"
          FROM "otel_traces" AS "c8"
          WHERE
            "c8"."SpanName" GLOB 'handle_job_failure *'
        )
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 4
      THEN CASE
        WHEN ("c3"."TraceId", "c3"."ParentSpanId") IN (
          SELECT
            "p13"."TraceId",
            "p13"."SpanId"
          FROM "otel_traces" AS "p13"
          WHERE
            "p13"."SpanName" GLOB 'publish *'
            AND ("p13"."TraceId", "p13"."SpanId") IN (
              SELECT
                "c14"."TraceId",
                "c14"."ParentSpanId"
              FROM "otel_traces" AS "c14"
              WHERE
                "c14"."SpanName" GLOB 'publish *'
            )
        )
        THEN 'retry'
        WHEN "c3"."SpanName" GLOB '*'
        THEN 'failed'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 5
      THEN CASE
        WHEN "c3"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN "c3"."SpanName" GLOB '*'
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 6
      THEN CASE
        WHEN "c3"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN "c3"."SpanName" GLOB '*'
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 7
      THEN CASE
        WHEN CONTAINS("c3"."SpanAttributes", '"job.outcome":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."job.outcome"', '') = 'done'
        THEN 'done'
        WHEN CONTAINS("c3"."SpanAttributes", '"job.outcome":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."job.outcome"', '') = 'failed'
        THEN 'failed'
        WHEN CONTAINS("c3"."SpanAttributes", '"job.outcome":')
        AND COALESCE("c3"."SpanAttributes" ->> '$."job.outcome"', '') = 'retry'
        THEN 'retry'
        WHEN "c3"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN LIST_CONTAINS("c3"."Events.Name", 'job.done')
        THEN 'done'
        ELSE 'unknown'
      END
      WHEN "c3"."shape" = 8
      THEN CASE
        WHEN "c3"."StatusCode" = 'Error'
        THEN 'failed'
        WHEN "c3"."SpanName" GLOB '*'
        THEN 'done'
        ELSE 'unknown'
      END
    END AS "outcome",
    CASE
      WHEN "c3"."shape" = 1
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job completed'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 2
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 3
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        "d10"."v",
        "d12"."v",
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 4
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 5
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 6
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 7
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
      WHEN "c3"."shape" = 8
      THEN COALESCE(
        EPOCH_NS(
          LIST_EXTRACT("c3"."Events.Timestamp", LIST_POSITION("c3"."Events.Name", 'job.done'))
        ),
        EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      )
    END AS "done_ns",
    CASE
      WHEN "c3"."shape" = 1
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 2
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 3
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 4
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 5
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 6
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 7
      THEN EPOCH_NS("c3"."Timestamp")
      WHEN "c3"."shape" = 8
      THEN EPOCH_NS("c3"."Timestamp")
    END AS "start_ns",
    CASE
      WHEN "c3"."shape" = 1
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 2
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 3
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 4
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 5
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 6
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 7
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
      WHEN "c3"."shape" = 8
      THEN EPOCH_NS("c3"."Timestamp") + "c3"."Duration"
    END AS "end_ns",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 2
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 3
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 4
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 5
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 6
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 7
      THEN "c3"."TraceId"
      WHEN "c3"."shape" = 8
      THEN "c3"."TraceId"
    END AS "trace_id",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 2
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 3
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 4
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 5
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 6
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 7
      THEN "c3"."SpanId"
      WHEN "c3"."shape" = 8
      THEN "c3"."SpanId"
    END AS "span_id",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 2
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 3
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 4
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 5
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 6
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 7
      THEN "c3"."ParentSpanId"
      WHEN "c3"."shape" = 8
      THEN "c3"."ParentSpanId"
    END AS "parent_span_id",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 2
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 3
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 4
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 5
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 6
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 7
      THEN "c3"."ServiceName"
      WHEN "c3"."shape" = 8
      THEN "c3"."ServiceName"
    END AS "service",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 2
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 3
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 4
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 5
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 6
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 7
      THEN "c3"."SpanName"
      WHEN "c3"."shape" = 8
      THEN "c3"."SpanName"
    END AS "span_name",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 2
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 3
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 4
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 5
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 6
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 7
      THEN "c3"."StatusCode"
      WHEN "c3"."shape" = 8
      THEN "c3"."StatusCode"
    END AS "status",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 2
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 3
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 4
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 5
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 6
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 7
      THEN "c3"."SpanAttributes"
      WHEN "c3"."shape" = 8
      THEN "c3"."SpanAttributes"
    END AS "attributes",
    CASE
      WHEN "c3"."shape" = 1
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 2
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 3
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 4
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 5
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 6
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 7
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
      WHEN "c3"."shape" = 8
      THEN COALESCE("c3"."SpanAttributes" ->> '$."job.expected_effects"', '')
    END AS "expected_effects",
    CASE
      WHEN "c3"."shape" = 1
      THEN ''
      WHEN "c3"."shape" = 2
      THEN CONCAT_WS(
        ',',
        CASE
          WHEN CONTAINS("c3"."SpanAttributes", '"celery.delivery_info":')
          AND COALESCE("c3"."SpanAttributes" ->> '$."celery.delivery_info"', '') GLOB '*''redelivered'': True*'
          THEN 'redelivered'
        END
      )
      WHEN "c3"."shape" = 3
      THEN ''
      WHEN "c3"."shape" = 4
      THEN CONCAT_WS(',', CASE WHEN "c3"."SpanName" GLOB '*' THEN 'worker_lost' END)
      WHEN "c3"."shape" = 5
      THEN ''
      WHEN "c3"."shape" = 6
      THEN ''
      WHEN "c3"."shape" = 7
      THEN ''
      WHEN "c3"."shape" = 8
      THEN ''
    END AS "signals",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 2
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 3
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 4
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 5
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 6
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 7
      THEN "c3"."Links.TraceId"
      WHEN "c3"."shape" = 8
      THEN "c3"."Links.TraceId"
    END AS "link_trace_ids",
    CASE
      WHEN "c3"."shape" = 1
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 2
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 3
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 4
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 5
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 6
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 7
      THEN "c3"."BatchId"
      WHEN "c3"."shape" = 8
      THEN "c3"."BatchId"
    END AS "batch_id",
    CASE
      WHEN "c3"."shape" = 1
      THEN 'bullmq'
      WHEN "c3"."shape" = 2
      THEN 'celery'
      WHEN "c3"."shape" = 3
      THEN 'rq'
      WHEN "c3"."shape" = 4
      THEN 'rq'
      WHEN "c3"."shape" = 5
      THEN 'sidekiq'
      WHEN "c3"."shape" = 6
      THEN 'temporal'
      WHEN "c3"."shape" = 7
      THEN 'probes'
      WHEN "c3"."shape" = 8
      THEN 'messaging'
    END AS "profile"
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
        WHEN (
          "s1"."SpanName" GLOB 'process *'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", '"bullmq.job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."bullmq.job.id"'
          ) IS NULL
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
        THEN 1
        WHEN (
          "s1"."SpanName" GLOB 'run/*'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", '"celery.task_name":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."celery.task_name"'
          ) IS NULL
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
        THEN 2
        WHEN (
          "s1"."SpanName" GLOB 'consume *'
          AND "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", '"rq.job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."rq.job.id"'
          ) IS NULL
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
        THEN 3
        WHEN (
          "s1"."SpanName" GLOB 'handle_job_failure *'
          AND CONTAINS("s1"."SpanAttributes", '"rq.job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."rq.job.id"'
          ) IS NULL
          AND ("s1"."TraceId", "s1"."ParentSpanId") IN (
            SELECT
              "p2"."TraceId",
              "p2"."SpanId"
            FROM "otel_traces" AS "p2"
            WHERE
              "p2"."SpanName" GLOB 'publish *' AND "p2"."SpanKind" IN ('Producer')
          )
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
        THEN 4
        WHEN (
          "s1"."SpanKind" IN ('Consumer')
          AND CONTAINS("s1"."SpanAttributes", '"messaging.system":')
          AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
          AND CONTAINS("s1"."SpanAttributes", '"messaging.message_id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."messaging.message_id"'
          ) IS NULL
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
        THEN 5
        WHEN (
          "s1"."SpanName" GLOB 'RunActivity:*'
          AND CONTAINS("s1"."SpanAttributes", '"temporalActivityID":')
          AND NOT (
            "s1"."SpanAttributes" -> '$.temporalActivityID'
          ) IS NULL
        )
        AND CASE
          WHEN COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', '') = ''
          OR COALESCE("s1"."SpanAttributes" ->> '$.temporalActivityID', '') = ''
          THEN ''
          ELSE CONCAT_WS(
            '/',
            COALESCE("s1"."SpanAttributes" ->> '$.temporalWorkflowID', ''),
            COALESCE("s1"."SpanAttributes" ->> '$.temporalActivityID', '')
          )
        END <> ''
        THEN 6
        WHEN (
          CONTAINS("s1"."SpanAttributes", '"job.system":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.system"'
          ) IS NULL
          AND CONTAINS("s1"."SpanAttributes", '"job.id":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.id"'
          ) IS NULL
          AND CONTAINS("s1"."SpanAttributes", '"job.name":')
          AND NOT (
            "s1"."SpanAttributes" -> '$."job.name"'
          ) IS NULL
          AND NOT (
            (
              "s1"."SpanName" = 'side_effect.confirm' OR "s1"."SpanKind" IN ('Producer')
            )
          )
        )
        AND COALESCE("s1"."SpanAttributes" ->> '$."job.id"', '') <> ''
        THEN 7
        WHEN (
          "s1"."SpanKind" IN ('Consumer')
          AND (
            (
              CONTAINS("s1"."SpanAttributes", '"messaging.operation.type":')
              AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('process', 'deliver')
            )
            OR (
              CONTAINS("s1"."SpanAttributes", '"messaging.operation":')
              AND COALESCE("s1"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('process', 'deliver')
            )
          )
        )
        AND COALESCE(
          NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
          NULLIF(COALESCE("s1"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
          ''
        ) <> ''
        THEN 8
      END AS "shape"
    FROM "otel_traces" AS "s1"
  ) AS "c3"
  LEFT JOIN (
    SELECT
      "c9"."TraceId" AS "trace_id",
      "c9"."ParentSpanId" AS "parent_id",
      MIN(
        EPOCH_NS(
          LIST_EXTRACT("c9"."Events.Timestamp", LIST_POSITION("c9"."Events.Name", 'job.done'))
        )
      ) AS "v"
    FROM "otel_traces" AS "c9"
    WHERE
      LIST_CONTAINS("c9"."Events.Name", 'job.done')
    GROUP BY
      "c9"."TraceId",
      "c9"."ParentSpanId"
  ) AS "d10"
    ON "d10"."trace_id" = "c3"."TraceId" AND "d10"."parent_id" = "c3"."SpanId"
  LEFT JOIN (
    SELECT
      "c11"."TraceId" AS "trace_id",
      "c11"."ParentSpanId" AS "parent_id",
      MIN(EPOCH_NS("c11"."Timestamp")) AS "v"
    FROM "otel_traces" AS "c11"
    WHERE
      "c11"."SpanName" GLOB 'handle_job_success *'
    GROUP BY
      "c11"."TraceId",
      "c11"."ParentSpanId"
  ) AS "d12"
    ON "d12"."trace_id" = "c3"."TraceId" AND "d12"."parent_id" = "c3"."SpanId"
  WHERE
    NOT "c3"."shape" IS NULL
) AS "q15";

-- derived table enqueues
SELECT
  CASE
    WHEN "c17"."shape" = 1
    THEN 'bullmq'
    WHEN "c17"."shape" = 2
    THEN 'celery'
    WHEN "c17"."shape" = 3
    THEN 'rq'
    WHEN "c17"."shape" = 4
    THEN 'sidekiq'
    WHEN "c17"."shape" = 5
    THEN COALESCE("c17"."SpanAttributes" ->> '$."job.system"', '')
    WHEN "c17"."shape" = 6
    THEN COALESCE(
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.system"', ''), ''),
      NULLIF('messaging', ''),
      ''
    )
  END AS "system",
  CASE
    WHEN "c17"."shape" = 1
    THEN COALESCE("c17"."SpanAttributes" ->> '$."bullmq.job.id"', '')
    WHEN "c17"."shape" = 2
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.message.id"', '')
    WHEN "c17"."shape" = 3
    THEN COALESCE("c17"."SpanAttributes" ->> '$."rq.job.id"', '')
    WHEN "c17"."shape" = 4
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.message_id"', '')
    WHEN "c17"."shape" = 5
    THEN COALESCE("c17"."SpanAttributes" ->> '$."job.id"', '')
    WHEN "c17"."shape" = 6
    THEN COALESCE(
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
      ''
    )
  END AS "job_id",
  CASE
    WHEN "c17"."shape" = 1
    THEN COALESCE("c17"."SpanAttributes" ->> '$."bullmq.job.name"', '')
    WHEN "c17"."shape" = 2
    THEN COALESCE("c17"."SpanAttributes" ->> '$."celery.task_name"', '')
    WHEN "c17"."shape" = 3
    THEN COALESCE("c17"."SpanAttributes" ->> '$."rq.job.function"', '')
    WHEN "c17"."shape" = 4
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.sidekiq.job_class"', '')
    WHEN "c17"."shape" = 5
    THEN COALESCE(
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."job.name"', ''), ''),
      NULLIF("c17"."SpanName", ''),
      ''
    )
    WHEN "c17"."shape" = 6
    THEN COALESCE(
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
      NULLIF("c17"."SpanName", ''),
      ''
    )
  END AS "job_name",
  CASE
    WHEN "c17"."shape" = 1
    THEN COALESCE("c17"."SpanAttributes" ->> '$."bullmq.queue.name"', '')
    WHEN "c17"."shape" = 2
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination"', '')
    WHEN "c17"."shape" = 3
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination.name"', '')
    WHEN "c17"."shape" = 4
    THEN COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination"', '')
    WHEN "c17"."shape" = 5
    THEN COALESCE("c17"."SpanAttributes" ->> '$."job.queue"', '')
    WHEN "c17"."shape" = 6
    THEN COALESCE(
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination.name"', ''), ''),
      NULLIF(COALESCE("c17"."SpanAttributes" ->> '$."messaging.destination"', ''), ''),
      ''
    )
  END AS "queue",
  CASE
    WHEN "c17"."shape" = 1
    THEN EPOCH_NS("c17"."Timestamp")
    WHEN "c17"."shape" = 2
    THEN EPOCH_NS("c17"."Timestamp")
    WHEN "c17"."shape" = 3
    THEN EPOCH_NS("c17"."Timestamp")
    WHEN "c17"."shape" = 4
    THEN EPOCH_NS("c17"."Timestamp")
    WHEN "c17"."shape" = 5
    THEN EPOCH_NS("c17"."Timestamp")
    WHEN "c17"."shape" = 6
    THEN EPOCH_NS("c17"."Timestamp")
  END AS "enqueued_ns",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."TraceId"
    WHEN "c17"."shape" = 2
    THEN "c17"."TraceId"
    WHEN "c17"."shape" = 3
    THEN "c17"."TraceId"
    WHEN "c17"."shape" = 4
    THEN "c17"."TraceId"
    WHEN "c17"."shape" = 5
    THEN "c17"."TraceId"
    WHEN "c17"."shape" = 6
    THEN "c17"."TraceId"
  END AS "trace_id",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."SpanId"
    WHEN "c17"."shape" = 2
    THEN "c17"."SpanId"
    WHEN "c17"."shape" = 3
    THEN "c17"."SpanId"
    WHEN "c17"."shape" = 4
    THEN "c17"."SpanId"
    WHEN "c17"."shape" = 5
    THEN "c17"."SpanId"
    WHEN "c17"."shape" = 6
    THEN "c17"."SpanId"
  END AS "span_id",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."ServiceName"
    WHEN "c17"."shape" = 2
    THEN "c17"."ServiceName"
    WHEN "c17"."shape" = 3
    THEN "c17"."ServiceName"
    WHEN "c17"."shape" = 4
    THEN "c17"."ServiceName"
    WHEN "c17"."shape" = 5
    THEN "c17"."ServiceName"
    WHEN "c17"."shape" = 6
    THEN "c17"."ServiceName"
  END AS "service",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."SpanName"
    WHEN "c17"."shape" = 2
    THEN "c17"."SpanName"
    WHEN "c17"."shape" = 3
    THEN "c17"."SpanName"
    WHEN "c17"."shape" = 4
    THEN "c17"."SpanName"
    WHEN "c17"."shape" = 5
    THEN "c17"."SpanName"
    WHEN "c17"."shape" = 6
    THEN "c17"."SpanName"
  END AS "span_name",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."SpanAttributes"
    WHEN "c17"."shape" = 2
    THEN "c17"."SpanAttributes"
    WHEN "c17"."shape" = 3
    THEN "c17"."SpanAttributes"
    WHEN "c17"."shape" = 4
    THEN "c17"."SpanAttributes"
    WHEN "c17"."shape" = 5
    THEN "c17"."SpanAttributes"
    WHEN "c17"."shape" = 6
    THEN "c17"."SpanAttributes"
  END AS "attributes",
  CASE
    WHEN "c17"."shape" = 1
    THEN "c17"."BatchId"
    WHEN "c17"."shape" = 2
    THEN "c17"."BatchId"
    WHEN "c17"."shape" = 3
    THEN "c17"."BatchId"
    WHEN "c17"."shape" = 4
    THEN "c17"."BatchId"
    WHEN "c17"."shape" = 5
    THEN "c17"."BatchId"
    WHEN "c17"."shape" = 6
    THEN "c17"."BatchId"
  END AS "batch_id",
  CASE
    WHEN "c17"."shape" = 1
    THEN 'bullmq'
    WHEN "c17"."shape" = 2
    THEN 'celery'
    WHEN "c17"."shape" = 3
    THEN 'rq'
    WHEN "c17"."shape" = 4
    THEN 'sidekiq'
    WHEN "c17"."shape" = 5
    THEN 'probes'
    WHEN "c17"."shape" = 6
    THEN 'messaging'
  END AS "profile"
FROM (
  SELECT
    "s16"."Timestamp",
    "s16"."TraceId",
    "s16"."SpanId",
    "s16"."ParentSpanId",
    "s16"."SpanName",
    "s16"."SpanKind",
    "s16"."ServiceName",
    "s16"."ScopeName",
    "s16"."ResourceAttributes",
    "s16"."SpanAttributes",
    "s16"."Duration",
    "s16"."StatusCode",
    "s16"."StatusMessage",
    "s16"."Events.Timestamp",
    "s16"."Events.Name",
    "s16"."Events.Attributes",
    "s16"."Links.TraceId",
    "s16"."BatchId",
    CASE
      WHEN (
        "s16"."SpanName" GLOB 'add *'
        AND "s16"."SpanKind" IN ('Producer')
        AND CONTAINS("s16"."SpanAttributes", '"bullmq.job.id":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."bullmq.job.id"'
        ) IS NULL
      )
      AND COALESCE("s16"."SpanAttributes" ->> '$."bullmq.job.id"', '') <> ''
      THEN 1
      WHEN (
        "s16"."SpanName" GLOB 'apply_async/*'
        AND "s16"."SpanKind" IN ('Producer')
        AND CONTAINS("s16"."SpanAttributes", '"messaging.message.id":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."messaging.message.id"'
        ) IS NULL
      )
      AND COALESCE("s16"."SpanAttributes" ->> '$."messaging.message.id"', '') <> ''
      THEN 2
      WHEN (
        "s16"."SpanName" GLOB 'publish *'
        AND "s16"."SpanKind" IN ('Producer')
        AND CONTAINS("s16"."SpanAttributes", '"rq.job.id":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."rq.job.id"'
        ) IS NULL
      )
      AND COALESCE("s16"."SpanAttributes" ->> '$."rq.job.id"', '') <> ''
      THEN 3
      WHEN (
        "s16"."SpanKind" IN ('Producer')
        AND CONTAINS("s16"."SpanAttributes", '"messaging.system":')
        AND COALESCE("s16"."SpanAttributes" ->> '$."messaging.system"', '') = 'sidekiq'
        AND CONTAINS("s16"."SpanAttributes", '"messaging.message_id":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."messaging.message_id"'
        ) IS NULL
      )
      AND COALESCE("s16"."SpanAttributes" ->> '$."messaging.message_id"', '') <> ''
      THEN 4
      WHEN (
        "s16"."SpanKind" IN ('Producer')
        AND CONTAINS("s16"."SpanAttributes", '"job.system":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."job.system"'
        ) IS NULL
        AND CONTAINS("s16"."SpanAttributes", '"job.id":')
        AND NOT (
          "s16"."SpanAttributes" -> '$."job.id"'
        ) IS NULL
      )
      AND COALESCE("s16"."SpanAttributes" ->> '$."job.id"', '') <> ''
      THEN 5
      WHEN (
        "s16"."SpanKind" IN ('Producer')
        AND (
          (
            CONTAINS("s16"."SpanAttributes", '"messaging.operation.type":')
            AND COALESCE("s16"."SpanAttributes" ->> '$."messaging.operation.type"', '') IN ('send', 'publish', 'create')
          )
          OR (
            CONTAINS("s16"."SpanAttributes", '"messaging.operation":')
            AND COALESCE("s16"."SpanAttributes" ->> '$."messaging.operation"', '') IN ('send', 'publish', 'create')
          )
        )
      )
      AND COALESCE(
        NULLIF(COALESCE("s16"."SpanAttributes" ->> '$."messaging.message.id"', ''), ''),
        NULLIF(COALESCE("s16"."SpanAttributes" ->> '$."messaging.message_id"', ''), ''),
        ''
      ) <> ''
      THEN 6
    END AS "shape"
  FROM "otel_traces" AS "s16"
) AS "c17"
WHERE
  NOT "c17"."shape" IS NULL;

-- derived table effects
SELECT
  COALESCE("s18"."SpanAttributes" ->> '$."side_effect.name"', '') AS "effect_name",
  COALESCE("s18"."SpanAttributes" ->> '$."side_effect.key"', '') AS "effect_key",
  COALESCE("s18"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
  COALESCE("s18"."SpanAttributes" ->> '$."job.system"', '') AS "system",
  NOT (
    (
      "s18"."StatusCode" = 'Error'
      OR (
        CONTAINS("s18"."SpanAttributes", '"side_effect.status":')
        AND COALESCE("s18"."SpanAttributes" ->> '$."side_effect.status"', '') = 'error'
      )
    )
  ) AS "ok",
  EPOCH_NS("s18"."Timestamp") AS "start_ns",
  EPOCH_NS("s18"."Timestamp") + "s18"."Duration" AS "end_ns",
  "s18"."TraceId" AS "trace_id",
  "s18"."SpanId" AS "span_id",
  "s18"."ParentSpanId" AS "parent_span_id",
  "s18"."ServiceName" AS "service",
  "s18"."SpanName" AS "span_name",
  "s18"."StatusMessage" AS "status_message",
  "s18"."SpanAttributes" AS "attributes",
  "s18"."Links.TraceId" AS "link_trace_ids",
  "s18"."BatchId" AS "batch_id"
FROM "otel_traces" AS "s18"
WHERE
  "s18"."SpanName" = 'side_effect.confirm';

-- derived table signals
SELECT
  "e20"."system" AS "system",
  COALESCE("e20"."ev_attrs" ->> '$."bullmq.job.id"', '') AS "job_id",
  'stalled' AS "signal",
  EPOCH_NS("e20"."ev_time") AS "at_ns",
  "e20"."trace_id" AS "trace_id",
  "e20"."span_id" AS "span_id",
  "e20"."span_name" AS "note"
FROM (
  SELECT
    'bullmq' AS "system",
    UNNEST("s19"."Events.Name") AS "ev_name",
    UNNEST("s19"."Events.Attributes") AS "ev_attrs",
    UNNEST("s19"."Events.Timestamp") AS "ev_time",
    "s19"."TraceId" AS "trace_id",
    "s19"."SpanId" AS "span_id",
    "s19"."SpanName" AS "span_name"
  FROM "otel_traces" AS "s19"
  WHERE
    "s19"."SpanName" GLOB 'moveStalledJobsToWait *'
) AS "e20"
WHERE
  "e20"."ev_name" = 'job stalled';

-- derived table error_spans
SELECT
  "s21"."TraceId" AS "trace_id",
  "s21"."SpanId" AS "span_id",
  "s21"."ParentSpanId" AS "parent_span_id",
  "s21"."SpanName" AS "span_name",
  EPOCH_NS("s21"."Timestamp") AS "start_ns",
  EPOCH_NS("s21"."Timestamp") + "s21"."Duration" AS "end_ns",
  COALESCE("s21"."SpanAttributes" ->> '$."job.id"', '') AS "job_id",
  "s21"."StatusMessage" AS "status_message",
  "s21"."ServiceName" AS "service"
FROM "otel_traces" AS "s21"
WHERE
  "s21"."StatusCode" = 'Error';

