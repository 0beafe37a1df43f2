"""The DuckDB store: opening, migrating, and the one insert path for spans.

Whoever holds a ``DuckStore`` opened for writing is the single writer of that file (DuckDB
allows one writing process). ``insert`` is the only way spans enter the store; it commits
one transaction per call, so callers batch (``writer.GroupCommitWriter`` for the receivers,
``ingest`` for files). Commit times (``IngestedAt``, ``auditor_batches.committed_at``) are
the injected ``Clock``'s, in UTC.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.errors import StoreError
from auditor.otlp.batch import COLUMNS
from auditor.store.schema import LATEST_VERSION, MIGRATIONS, SCHEMA_TABLE_DDL

_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)

# A span is stored once per (TraceId, SpanId): OTLP clients re-send whole batches after a
# timeout, and a re-sent confirmation must never look like a repeated side effect.
# Duplicates inside the incoming group go through DISTINCT ON; duplicates of stored spans
# through an anti join against the stored spans *of the same time range*. A re-sent span has
# the same start time, and DuckDB skips row groups by their min/max Timestamp, so the cost
# follows the batch, not the size of the store (no index to maintain).
_INSERT_SQL = f"""
INSERT INTO otel_traces ({_QUOTED}, "BatchId", "IngestedAt")
SELECT {", ".join(f'b."{c}"' for c in COLUMNS)}, $batch_id, $committed_at
FROM (SELECT DISTINCT ON ("TraceId", "SpanId") * FROM incoming) AS b
ANTI JOIN (
    SELECT "TraceId", "SpanId" FROM otel_traces
    WHERE "Timestamp" BETWEEN make_timestamp_ns($lo) AND make_timestamp_ns($hi)
) AS s ON b."TraceId" = s."TraceId" AND b."SpanId" = s."SpanId"
"""


def _refuse_other_files(path: str) -> None:
    """DuckDB opens an existing non-DuckDB file (a .jsonl given by mistake) as an empty
    in-memory database: everything written would vanish. Refuse it instead."""
    if path == ":memory:":
        return
    try:
        with open(path, "rb") as f:
            header = f.read(12)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot open store {path}: {exc.strerror or exc}") from None
    if header and header[8:12] != b"DUCK":
        raise StoreError(f"{path} is not a DuckDB store (is it a span file? pass it as input)")


_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def _lock_holder(message: str) -> str:
    """``, PID 1234: audit serve --db x`` from DuckDB's lock error (which names the holder's
    program and PID), with the holder's command line when this machine shows it; ``""``
    when the message names no holder."""
    found = _HOLDER.search(message)
    if not found:
        return ""
    program, pid = found[1], found[2]
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        argv = []
    words = [
        os.path.basename(a.decode(errors="replace")) if i < 2 else a.decode(errors="replace")
        for i, a in enumerate(argv)
    ]
    command = " ".join(" ".join(words).split()) or program
    if len(command) > 160:
        command = command[:157] + "..."
    return f", PID {pid}: {command}"


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failed statement or commit. A commit that failed (the disk full)
    has already ended the transaction; rolling back again would raise and hide the error
    that matters, so that second error is dropped."""
    with contextlib.suppress(duckdb.TransactionException):
        con.rollback()


@dataclass(frozen=True)
class InsertResult:
    batch_id: int
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


class SpanWriter(Protocol):
    """What loading spans needs of a store: this DuckDB store, or ClickHouse's
    (``store.clickhouse.ClickHouseStore``), with the same once-per-(TraceId, SpanId) promise."""

    def insert(self, table: pa.Table) -> InsertResult: ...


class DuckStore:
    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        read_only: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.path = str(path)
        self.read_only = read_only
        self.clock = clock
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"no store at {self.path}")
        _refuse_other_files(self.path)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(
                    f"{self.path} is open in another process{_lock_holder(str(exc))} "
                    "(is `audit serve` running on it?)"
                ) from None
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        except duckdb.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        try:
            if read_only:
                self._check_version()
            else:
                # Fewer, larger checkpoints: with the default 16 MB, a busy sidecar stalls a
                # commit for a checkpoint every few seconds.
                self.con.execute("SET checkpoint_threshold = '256MB'")
                self.migrate()
        except BaseException:
            self.con.close()  # release the file: a refused store must not stay locked
            raise

    # ------------------------------------------------------------------ schema

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'auditor_schema'"
        ).fetchall()[0]
        if not exists or not exists[0]:
            return 0
        row = self.con.execute("SELECT max(version) FROM auditor_schema").fetchall()[0]
        return int(row[0]) if row and row[0] is not None else 0

    def _check_version(self) -> None:
        version = self.schema_version()
        if version > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this auditor knows up to "
                f"{LATEST_VERSION}. Upgrade auditor."
            )
        if version < LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; open it once for writing "
                f"(e.g. `audit ingest --db {self.path}` with no files) to migrate it."
            )

    def migrate(self) -> None:
        self.con.execute(SCHEMA_TABLE_DDL)
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}; this auditor knows up to "
                f"{LATEST_VERSION}. Upgrade auditor."
            )
        for version, description, ddl in MIGRATIONS:
            if version <= current:
                continue
            self.con.begin()
            try:
                self.con.execute(ddl)
                self.con.execute(
                    "INSERT INTO auditor_schema (version, description) VALUES (?, ?)",
                    [version, description],
                )
                self.con.commit()
            except Exception:
                _rollback(self.con)
                raise

    # ------------------------------------------------------------------ writing

    def insert(self, table: pa.Table) -> InsertResult:
        """Store the spans of ``table`` (``otlp.batch.ARROW_SCHEMA``) in one transaction.

        Returns only after the commit, so a caller may acknowledge its clients then.
        """
        received = table.num_rows
        if received == 0:
            return InsertResult(0, 0, 0)
        bounds = pc.min_max(table.column("Timestamp").cast(pa.int64()))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        con = self.con
        con.begin()
        try:
            # fetchall: DuckDB refuses new work on a connection with an unfinished result.
            batch_id = con.execute("SELECT nextval('auditor_batch_seq')").fetchall()[0][0]
            con.register("incoming", table)
            # The clock's UTC, like every other stamp (DuckDB's now() would be local time).
            committed_at = naive_utc(self.clock.now())
            params = {"batch_id": batch_id, "lo": lo, "hi": hi, "committed_at": committed_at}
            stored = con.execute(_INSERT_SQL, params).fetchall()[0][0]
            con.execute(
                "INSERT INTO auditor_batches VALUES (?, ?, ?, ?, "
                "make_timestamp_ns(?), make_timestamp_ns(?))",
                [batch_id, committed_at, received, stored, lo, hi],
            )
            con.commit()
        except Exception:
            _rollback(con)
            raise
        finally:
            con.unregister("incoming")
        return InsertResult(int(batch_id), received, int(stored))

    # ------------------------------------------------------------------ reading

    def span_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM otel_traces").fetchall()[0]
        return int(row[0]) if row else 0

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for another thread (DuckDB connections are not shared across threads)."""
        return self.con.cursor()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the file. When that fails (the disk full), nothing
        committed is lost: the log is kept and replayed the next time the store opens."""
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise StoreError(
                f"could not checkpoint {self.path} ({_first_line(exc)}); every committed span "
                "is in its write-ahead log and is replayed when the store next opens"
            ) from None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
