"""The store's schema and its migrations.

``otel_traces`` uses the column names and meanings of the OpenTelemetry Collector's
ClickHouse exporter (docs/design.md, "The store"), so that rules compiled for DuckDB and for a
ClickHouse filled by a Collector fleet read the same columns. Nested columns (events,
links) are parallel lists under the exporter's dotted names. Extra columns: ``Flags`` (W3C
span flags as received), ``BatchId`` (the commit that stored the row: the watermark for
incremental evaluation) and ``IngestedAt``.

There is deliberately no primary key: DuckDB's ART index made inserts 2-3x slower and grows
with the store. Uniqueness per (TraceId, SpanId) is enforced by the single writer instead
(see ``duck.DuckStore.insert``).

Migrations are append-only: each entry runs once, in order, inside one transaction, and
bumps ``auditor_schema``. Never edit a released migration; add the next one.
"""

from __future__ import annotations

SPAN_COLUMNS_DDL = """
    "Timestamp" TIMESTAMP_NS NOT NULL,
    "TraceId" VARCHAR NOT NULL,
    "SpanId" VARCHAR NOT NULL,
    "ParentSpanId" VARCHAR NOT NULL,
    "TraceState" VARCHAR NOT NULL,
    "SpanName" VARCHAR NOT NULL,
    "SpanKind" VARCHAR NOT NULL,
    "ServiceName" VARCHAR NOT NULL,
    "ResourceAttributes" JSON NOT NULL,
    "ScopeName" VARCHAR NOT NULL,
    "ScopeVersion" VARCHAR NOT NULL,
    "SpanAttributes" JSON NOT NULL,
    "Duration" BIGINT NOT NULL,
    "StatusCode" VARCHAR NOT NULL,
    "StatusMessage" VARCHAR NOT NULL,
    "Events.Timestamp" TIMESTAMP_NS[] NOT NULL,
    "Events.Name" VARCHAR[] NOT NULL,
    "Events.Attributes" JSON[] NOT NULL,
    "Links.TraceId" VARCHAR[] NOT NULL,
    "Links.SpanId" VARCHAR[] NOT NULL,
    "Links.TraceState" VARCHAR[] NOT NULL,
    "Links.Attributes" JSON[] NOT NULL,
    "Flags" UINTEGER NOT NULL
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "spans and commit batches",
        f"""
        CREATE TABLE otel_traces ({SPAN_COLUMNS_DDL},
            "BatchId" UBIGINT NOT NULL,
            "IngestedAt" TIMESTAMP NOT NULL
        );
        CREATE SEQUENCE auditor_batch_seq START 1;
        CREATE TABLE auditor_batches (
            batch_id UBIGINT PRIMARY KEY,
            committed_at TIMESTAMP NOT NULL,
            received BIGINT NOT NULL,   -- spans offered in this commit
            stored BIGINT NOT NULL,     -- spans new to the store
            min_timestamp TIMESTAMP_NS,
            max_timestamp TIMESTAMP_NS
        );
        """,
    ),
    (
        2,
        "findings and triage notes",
        """
        CREATE TABLE findings (
            fingerprint VARCHAR PRIMARY KEY,
            rule_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            state VARCHAR NOT NULL,          -- pending | open | resolved
            triage VARCHAR NOT NULL DEFAULT 'new',
            system VARCHAR NOT NULL,
            job_id VARCHAR NOT NULL,
            job_name VARCHAR NOT NULL,
            queue VARCHAR NOT NULL,
            effect_name VARCHAR NOT NULL,
            effect_key VARCHAR NOT NULL,
            trace_id VARCHAR NOT NULL,
            span_id VARCHAR NOT NULL,
            service VARCHAR NOT NULL,
            attempt BIGINT,
            done_ns BIGINT,
            message VARCHAR NOT NULL,
            evidence JSON NOT NULL,
            labels JSON NOT NULL,
            origin VARCHAR NOT NULL,         -- scan | serve
            first_seen TIMESTAMP NOT NULL,
            last_seen TIMESTAMP NOT NULL,
            resolved_at TIMESTAMP
        );
        CREATE TABLE finding_notes (
            fingerprint VARCHAR NOT NULL,
            noted_at TIMESTAMP NOT NULL,
            author VARCHAR NOT NULL,
            triage VARCHAR,
            text VARCHAR NOT NULL
        );
        """,
    ),
    (
        3,
        "alert outbox and alert state",
        """
        -- One row per message to one sink: written in the transaction that decides to alert,
        -- sent by the dispatcher, and marked sent only after the sink accepted it.
        CREATE SEQUENCE alert_outbox_seq START 1;
        CREATE TABLE alert_outbox (
            id BIGINT PRIMARY KEY,
            sink VARCHAR NOT NULL,            -- the sink's name in audit.yaml
            sink_type VARCHAR NOT NULL,       -- webhook | slack | alertmanager | pagerduty | email
            event VARCHAR NOT NULL,           -- open | repeat | resolved
            group_key VARCHAR NOT NULL,
            fingerprints VARCHAR[] NOT NULL,
            payload JSON NOT NULL,            -- what is sent, without the sink's secrets
            state VARCHAR NOT NULL,           -- pending | sent | failed
            attempts INTEGER NOT NULL,
            next_attempt_at TIMESTAMP NOT NULL,
            last_error VARCHAR,
            last_answer VARCHAR,              -- the sink's answer: HTTP status, SMTP reply
            created_at TIMESTAMP NOT NULL,
            sent_at TIMESTAMP
        );
        -- Per sink and finding: whether an alert is open there, so that each change of state
        -- is told once and still-open alerts are told again every repeat_interval.
        CREATE TABLE alert_state (
            sink VARCHAR NOT NULL,
            fingerprint VARCHAR NOT NULL,
            active BOOLEAN NOT NULL,
            opened_at TIMESTAMP NOT NULL,
            last_notified_at TIMESTAMP NOT NULL,
            resolved_at TIMESTAMP,
            PRIMARY KEY (sink, fingerprint)
        );
        """,
    ),
    (
        4,
        "rule mutes",
        """
        CREATE TABLE rule_mutes (
            rule_id VARCHAR NOT NULL,
            muted_at TIMESTAMP NOT NULL,
            until TIMESTAMP NOT NULL,        -- the mute holds while now < until
            author VARCHAR NOT NULL,
            note VARCHAR NOT NULL
        );
        """,
    ),
    (
        5,
        "evaluation watermark",
        """
        -- How far the sidecar's incremental evaluation has read (auditor_batches ids) and
        -- what it evaluated with: a restart resumes here, neither re-alerting nor skipping.
        -- The derived tables it keeps (schema "derived") are a cache of the spans, rebuilt
        -- whenever ``signature`` (the profiles and rules) changes.
        CREATE TABLE auditor_watermarks (
            name VARCHAR PRIMARY KEY,
            batch_id UBIGINT NOT NULL,
            signature VARCHAR NOT NULL,
            as_of_ns BIGINT NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1][0]

SCHEMA_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS auditor_schema (
    version INTEGER NOT NULL,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp
)
"""
