"""ClickHouse as the span store: chDB (embedded, a folder) or a server (clickhouse-connect).

Spans live in ``otel_traces`` exactly as the OpenTelemetry Collector's ``clickhouseexporter``
creates it (``EXPORTER_DDL``: its column names and types, Map attributes, Nested events and
links, its ordering key), so a Collector fleet and ``audit ingest --backend`` fill the same
table and auditor reads a fleet's table as it finds it. auditor adds no column and no table
there.

``ClickHouseStore`` offers what the rest of auditor needs of a span store:

- ``insert(arrow)``: the one insert path (``audit ingest --backend``), with the DuckDB store's
  promise: a span is stored once per (TraceId, SpanId) — duplicates inside the batch and
  spans already stored in the batch's time range are dropped before the insert (ClickHouse
  has no unique key, and a re-sent confirmation must never look like a repeated side effect);
- ``read_spans()``: the stored spans as Arrow in ``otlp.batch.ARROW_SCHEMA`` (attribute maps
  as JSON text with string values, the way the DuckDB store's readers read them), batch by
  batch, for the evaluation (``engine.scan``: see docs/clickhouse.md for why evaluation pulls
  the spans into an in-memory DuckDB).

The drivers are the optional extra ``auditor[clickhouse]`` (chdb, clickhouse-connect),
imported only here and only when a ClickHouse backend is opened: without them, opening one is
a ``UsageError`` that says what to install (exit 2), never an ImportError.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from auditor.errors import StoreError, UsageError
from auditor.otlp.batch import ARROW_SCHEMA, COLUMNS
from auditor.store.backend import Backend
from auditor.store.duck import InsertResult

# The Collector's clickhouseexporter's table (exporter/clickhouseexporter, the traces table
# template): the same columns, types, codecs, skip indexes, partitioning and ordering key.
# The exporter fills in the cluster clause, the engine and an optional TTL; these are its
# defaults (no cluster, MergeTree(), no TTL).
EXPORTER_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

TABLE = "otel_traces"
MAP_COLUMNS = ("ResourceAttributes", "SpanAttributes")
MAP_LIST_COLUMNS = ("Events.Attributes", "Links.Attributes")
EXPORTER_COLUMNS = tuple(c for c in COLUMNS if c != "Flags")  # the exporter keeps no flags

# Our JSON attribute text → the exporter's Map(String, String): DuckDB's cast gives each
# value as text exactly as the DuckDB store's readers (json_extract_string) read it, so a
# rule sees the same value on both. Duplicates inside the batch go through DISTINCT ON.
_TO_EXPORTER = "SELECT {columns} FROM (SELECT DISTINCT ON (TraceId, SpanId) * FROM incoming) AS b"
_STORED_IN_RANGE = (
    "SELECT TraceId, SpanId FROM {table} "
    "WHERE Timestamp BETWEEN fromUnixTimestamp64Nano({lo}) AND fromUnixTimestamp64Nano({hi})"
)

# ClickHouse's JSON escapes '/' by default; the DuckDB store's text does not, and the
# compilers' cheap key test (``Dialect.mentions_key``) reads the text.
_JSON_SETTINGS = {"output_format_json_escape_forward_slashes": 0}


def _exporter_select() -> str:
    parts = []
    for name in EXPORTER_COLUMNS:
        quoted = f'"{name}"'
        if name in MAP_COLUMNS:
            parts.append(f"CAST({quoted}::JSON AS MAP(VARCHAR, VARCHAR)) AS {quoted}")
        elif name in MAP_LIST_COLUMNS:
            parts.append(
                f"list_transform({quoted}, lambda a: CAST(a::JSON AS MAP(VARCHAR, VARCHAR))) AS {quoted}"
            )
        else:
            parts.append(f"b.{quoted}")
    return _TO_EXPORTER.format(columns=", ".join(parts))


def _read_select(table: str, where: str = "") -> str:
    parts = []
    for name in COLUMNS:
        quoted = f"`{name}`"
        if name == "Flags":
            parts.append("toUInt32(0) AS Flags")
        elif name in MAP_COLUMNS:
            parts.append(f"toJSONString({quoted}) AS {quoted}")
        elif name in MAP_LIST_COLUMNS:
            parts.append(f"arrayMap(m -> toJSONString(m), {quoted}) AS {quoted}")
        else:
            parts.append(quoted)
    return f"SELECT {', '.join(parts)} FROM {table}{where}"


class _Connection(Protocol):
    def command(self, sql: str) -> None: ...

    def arrow(self, sql: str) -> pa.Table: ...

    def insert(self, table: str, data: pa.Table) -> None: ...

    def close(self) -> None: ...


def _missing_extra(what: str) -> UsageError:
    return UsageError(
        f"{what} needs the ClickHouse extra: pip install 'auditor[clickhouse]' "
        "(chdb and clickhouse-connect)"
    )


class _Chdb:
    """chDB: ClickHouse in this process, its tables in a folder. One chDB session may be
    open per process (chDB's own limit)."""

    def __init__(self, path: str) -> None:
        try:
            from chdb import session  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise _missing_extra(f"--backend chdb://{path}") from None
        Path(path).mkdir(parents=True, exist_ok=True)
        try:
            self._session = session.Session(path)
        except Exception as exc:  # chDB raises plain RuntimeErrors
            raise StoreError(f"cannot open chDB at {path}: {exc}") from None

    def command(self, sql: str) -> None:
        self._session.query(sql)

    def arrow(self, sql: str) -> pa.Table:
        settings = ", ".join(f"{k} = {v}" for k, v in _JSON_SETTINGS.items())
        return self._session.query(f"{sql} SETTINGS {settings}", "ArrowTable")

    def insert(self, table: str, data: pa.Table) -> None:
        # chDB reads the Arrow file itself: no row leaves Arrow on the way in.
        import pyarrow.ipc as ipc

        fd, name = tempfile.mkstemp(suffix=".arrow")
        try:
            with os.fdopen(fd, "wb") as out, ipc.new_file(out, data.schema) as writer:
                writer.write_table(data)
            columns = ", ".join(f"`{c}`" for c in data.column_names)
            self._session.query(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM file('{name}', 'Arrow')"
            )
        finally:
            os.unlink(name)

    def close(self) -> None:
        self._session.close()


class _Server:
    """A ClickHouse server over HTTP (clickhouse-connect)."""

    def __init__(self, backend: Backend) -> None:
        try:
            import clickhouse_connect  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise _missing_extra(f"--backend {backend}") from None
        try:
            self._client = clickhouse_connect.get_client(
                host=backend.host,
                port=backend.port,
                username=backend.user,
                password=backend.password,
                database=backend.database,
                secure=backend.secure,
                settings=_JSON_SETTINGS,
            )
        except Exception as exc:  # the driver's errors carry no secrets, only the URL
            raise StoreError(f"cannot reach ClickHouse at {backend}: {exc}") from None

    def command(self, sql: str) -> None:
        self._client.command(sql)

    def arrow(self, sql: str) -> pa.Table:
        return self._client.query_arrow(sql, use_strings=True)

    def insert(self, table: str, data: pa.Table) -> None:
        self._client.insert_arrow(table, data)

    def close(self) -> None:
        self._client.close()


class ClickHouseStore:
    """``otel_traces`` on chDB or a ClickHouse server (see the module's docstring)."""

    def __init__(self, backend: Backend, *, create: bool = True) -> None:
        if not backend.is_clickhouse:
            raise UsageError(f"{backend} is not a ClickHouse backend")
        self.backend = backend
        self._con: _Connection = (
            _Chdb(backend.path) if backend.scheme == "chdb" else _Server(backend)
        )
        self.table = TABLE
        try:
            if create:
                self._con.command(EXPORTER_DDL.format(table=self.table))
            elif not self._exists():
                raise StoreError(f"no {self.table} table in {backend}")
        except BaseException:
            self._con.close()
            raise

    def _exists(self) -> bool:
        found = self._con.arrow(f"EXISTS TABLE {self.table}")
        return bool(found.num_rows and found.column(0)[0].as_py())

    # ------------------------------------------------------------------ writing

    def insert(self, table: pa.Table) -> InsertResult:
        """Store the spans of ``table`` (``otlp.batch.ARROW_SCHEMA``) that are not stored yet."""
        received = table.num_rows
        if received == 0:
            return InsertResult(0, 0, 0)
        bounds = pc.min_max(table.column("Timestamp").cast(pa.int64()))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        stored = self._con.arrow(_STORED_IN_RANGE.format(table=self.table, lo=lo, hi=hi))
        con = duckdb.connect()
        try:
            con.register("incoming", table)
            con.register("stored", stored)
            fresh = con.sql(
                f"SELECT * FROM ({_exporter_select()}) AS n "
                "ANTI JOIN stored AS s ON n.TraceId = s.TraceId AND n.SpanId = s.SpanId"
            ).to_arrow_table()
        finally:
            con.close()
        if fresh.num_rows:
            self._con.insert(self.table, fresh)
        return InsertResult(0, received, fresh.num_rows)

    # ------------------------------------------------------------------ reading

    def span_count(self) -> int:
        found = self._con.arrow(f"SELECT count() AS n FROM {self.table}")
        return int(found.column(0)[0].as_py())

    def read_spans(self) -> Iterator[pa.Table]:
        """Every stored span, in ``ARROW_SCHEMA``, one partition (day) at a time."""
        days = self._con.arrow(
            f"SELECT DISTINCT toDate(Timestamp) AS d FROM {self.table} ORDER BY d"
        ).column(0)
        for day in days.to_pylist():
            where = f" WHERE toDate(Timestamp) = toDate('{day.isoformat()}')"
            yield _as_span_schema(self._con.arrow(_read_select(self.table, where)))

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ClickHouseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_span_schema(table: pa.Table) -> pa.Table:
    """ClickHouse's Arrow (time zones on DateTime64, UInt64 durations, dictionary strings)
    cast to the span batch's schema."""
    columns: list[Any] = []
    for field in ARROW_SCHEMA:
        column = table.column(field.name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=ARROW_SCHEMA)
