"""What the API reads from the store. Every function takes a DuckDB connection of its own
(a cursor of the store's: reads never wait for ingest, and see committed data only) and
returns plain JSON-ready values.

Findings come from the ``findings`` table the evaluation loop keeps, with their *effective*
triage (``store.triage.EFFECTIVE_SQL``: a muted rule's findings read ``muted``). Lists are
ordered by (severity rank descending, ``last_seen``, fingerprint) and paged by keyset: a page
starts after the last row of the one before, so pages neither skip nor repeat rows while
nothing changes; a finding seen again by an evaluation during the walk moves later and can
appear once more, never be skipped. Times are ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from auditor.findings.model import Severity
from auditor.findings.table import FINDING_FIELDS
from auditor.store.triage import EFFECTIVE_SQL

MAX_TRACE_SPANS = 2000

_RANK_SQL = (
    "CASE severity " + " ".join(f"WHEN '{s}' THEN {s.rank}" for s in Severity) + " ELSE -1 END"
)
# the stored column each field of Finding.to_dict() is read from
_SOURCE = {"done_at_ns": "done_ns", "triage": "effective_triage"}
_EXTRA = ("origin", "first_seen", "last_seen", "resolved_at", "muted_until")
_SELECT = ", ".join([*(_SOURCE.get(n, n) for n in FINDING_FIELDS), *_EXTRA])


def iso(moment: datetime | None) -> str | None:
    """A naive UTC ``TIMESTAMP`` as ISO 8601 with ``Z`` (None stays None)."""
    if moment is None:
        return None
    return moment.isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class FindingFilter:
    """Which findings a list holds; an empty tuple does not filter."""

    states: tuple[str, ...] = ()
    min_severity: Severity | None = None
    rules: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()
    triages: tuple[str, ...] = ()
    since: datetime | None = None  # last seen at or after

    def where(self, params: dict[str, Any]) -> list[str]:
        clauses = []
        for column, values in (
            ("state", self.states),
            ("rule_id", self.rules),
            ("kind", self.kinds),
            ("system", self.systems),
            ("effective_triage", self.triages),
        ):
            if values:
                params[column] = list(values)
                clauses.append(f"{column} IN (SELECT unnest(${column}::VARCHAR[]))")
        if self.min_severity is not None:
            params["min_rank"] = self.min_severity.rank
            clauses.append("rank >= $min_rank")
        if self.since is not None:
            params["since"] = self.since
            clauses.append("last_seen >= $since")
        return clauses


def _finding(row: tuple[Any, ...]) -> dict[str, Any]:
    names = (*FINDING_FIELDS, *_EXTRA)
    obj = dict(zip(names, row[: len(names)], strict=True))
    obj["evidence"] = json.loads(obj["evidence"])
    obj["labels"] = json.loads(obj["labels"])
    for name in ("first_seen", "last_seen", "resolved_at", "muted_until"):
        obj[name] = iso(obj[name])
    return obj


def list_findings(
    con: duckdb.DuckDBPyConnection,
    which: FindingFilter,
    *,
    now: datetime,
    limit: int,
    after: tuple[int, int, str] | None = None,
) -> tuple[list[dict[str, Any]], tuple[int, int, str] | None]:
    """One page of findings, and the sort key of its last row when more follow."""
    params: dict[str, Any] = {"now": now, "limit": limit + 1}
    clauses = which.where(params)
    if after is not None:
        params["a_rank"], params["a_seen"], params["a_fp"] = after
        clauses.append(
            "(rank < $a_rank OR (rank = $a_rank AND (seen_us > $a_seen OR "
            "(seen_us = $a_seen AND fingerprint > $a_fp))))"
        )
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = con.execute(
        f"""
        SELECT {_SELECT}, rank, seen_us
        FROM (SELECT *, {_RANK_SQL} AS rank, epoch_us(last_seen) AS seen_us
              FROM ({EFFECTIVE_SQL}))
        {where}
        ORDER BY rank DESC, seen_us, fingerprint
        LIMIT $limit
        """,
        params,
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    findings = [_finding(row) for row in rows]
    last = rows[-1] if rows and more else None
    cursor = (int(last[-2]), int(last[-1]), str(findings[-1]["fingerprint"])) if last else None
    return findings, cursor


def find_fingerprints(con: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    """The fingerprints that start with ``prefix`` (a hex string), at most two."""
    rows = con.execute(
        "SELECT fingerprint FROM findings WHERE starts_with(fingerprint, ?) "
        "ORDER BY fingerprint LIMIT 2",
        [prefix],
    ).fetchall()
    return [str(r[0]) for r in rows]


def get_finding(
    con: duckdb.DuckDBPyConnection, fingerprint: str, *, now: datetime
) -> dict[str, Any] | None:
    """One finding with its notes, oldest first; None when there is none."""
    rows = con.execute(
        f"SELECT {_SELECT} FROM ({EFFECTIVE_SQL}) WHERE fingerprint = $fp",
        {"now": now, "fp": fingerprint},
    ).fetchall()
    if not rows:
        return None
    finding = _finding(rows[0])
    notes = con.execute(
        "SELECT noted_at, author, triage, text FROM finding_notes WHERE fingerprint = ? "
        "ORDER BY noted_at, rowid",
        [fingerprint],
    ).fetchall()
    finding["notes"] = [
        {"at": iso(at), "author": author, "triage": triage, "text": text}
        for at, author, triage, text in notes
    ]
    return finding


def trace_spans(
    con: duckdb.DuckDBPyConnection, trace_id: str, *, events: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """The spans of a trace in start order (at most ``MAX_TRACE_SPANS``, as ``audit show``
    reads them), and whether there were more. ``events``: each span also carries its events
    (``{"time_ns", "name", "attributes"}``; the TUI's waterfall marks them)."""
    extra = (
        ', list_transform("Events.Timestamp", lambda t: epoch_ns(t)), "Events.Name", '
        '"Events.Attributes"'
        if events
        else ""
    )
    rows = con.execute(
        f"""
        SELECT "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName",
               epoch_ns("Timestamp"), epoch_ns("Timestamp") + "Duration", "StatusCode",
               "StatusMessage", "SpanAttributes"{extra}
        FROM otel_traces WHERE "TraceId" = ? ORDER BY "Timestamp", "SpanId" LIMIT ?
        """,
        [trace_id, MAX_TRACE_SPANS + 1],
    ).fetchall()
    names = (
        "span_id", "parent_span_id", "name", "kind", "service", "start_ns", "end_ns", "status",
        "status_message", "attributes",
    )  # fmt: skip
    spans = []
    for row in rows[:MAX_TRACE_SPANS]:
        span = dict(zip(names, row[: len(names)], strict=True))
        span["attributes"] = json.loads(span["attributes"])
        if events:
            times, event_names, attributes = row[len(names) :]
            span["events"] = [
                {"time_ns": int(t), "name": str(n), "attributes": json.loads(a or "{}")}
                for t, n, a in zip(times, event_names, attributes, strict=True)
            ]
        spans.append(span)
    return spans, len(rows) > MAX_TRACE_SPANS


def findings_table(con: duckdb.DuckDBPyConnection, *, now: datetime) -> pa.Table:
    """Every kept finding with its effective triage, as Arrow columns (the fields of
    ``list_findings``, plus ``severity_rank``), most severe first: the TUI's table, built
    without a Python object per finding."""
    named = ", ".join(f"{_SOURCE.get(n, n)} AS {n}" for n in (*FINDING_FIELDS, *_EXTRA))
    relation = con.sql(
        f"""
        SELECT {named}, {_RANK_SQL} AS severity_rank
        FROM ({EFFECTIVE_SQL})
        ORDER BY severity_rank DESC, last_seen, fingerprint
        """,
        params={"now": now},
    )
    return relation.to_arrow_table()


def typical_honest_trace(
    con: duckdb.DuckDBPyConnection, span_name: str, service: str, exclude: str
) -> str | None:
    """The trace of a typical honest run of a job: among the traces holding a span named
    ``span_name`` of ``service`` that no open or pending finding points at (and not
    ``exclude``), the one whose span lasted closest to the median. None when there is none."""
    rows = con.execute(
        """
        WITH candidates AS (
            SELECT "TraceId" AS trace_id, "Duration" AS duration FROM otel_traces
            WHERE "SpanName" = $name AND "ServiceName" = $service AND "TraceId" <> $exclude
              AND "TraceId" NOT IN (
                  SELECT trace_id FROM findings
                  WHERE trace_id IS NOT NULL AND state <> 'resolved'
              )
        )
        SELECT trace_id FROM candidates
        ORDER BY abs(duration - (SELECT median(duration) FROM candidates)), trace_id
        LIMIT 1
        """,
        {"name": span_name, "service": service, "exclude": exclude},
    ).fetchall()
    return str(rows[0][0]) if rows else None


def rule_counts(
    con: duckdb.DuckDBPyConnection, *, now: datetime
) -> dict[str, dict[str, dict[str, int]]]:
    """Per rule id: its findings by state and by effective triage."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    rows = con.execute(
        f"""SELECT rule_id, 'state', state, count(*) FROM findings GROUP BY ALL
            UNION ALL
            SELECT rule_id, 'triage', effective_triage, count(*) FROM ({EFFECTIVE_SQL})
            GROUP BY ALL""",
        {"now": now},
    ).fetchall()
    for rule_id, what, value, n in rows:
        counts.setdefault(rule_id, {"state": {}, "triage": {}})[what][value] = int(n)
    return counts


def findings_by_rule_kind_state(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, int]]:
    rows = con.execute(
        "SELECT rule_id, kind, state, count(*) FROM findings GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [(str(r), str(k), str(s), int(n)) for r, k, s, n in rows]


def ingest_stats(con: duckdb.DuckDBPyConnection, *, now: datetime) -> dict[str, Any]:
    """Spans in the store, and what arrived in the last minute and five minutes."""
    windows: dict[str, Any] = {}
    for name, seconds in (("last_minute", 60), ("last_5_minutes", 300)):
        received, stored, commits = con.execute(
            "SELECT coalesce(sum(received), 0), coalesce(sum(stored), 0), count(*) "
            "FROM auditor_batches WHERE committed_at > ? - to_seconds(?)",
            [now, seconds],
        ).fetchall()[0]
        windows[name] = {
            "spans_received": int(received),
            "spans_stored": int(stored),
            "commits": int(commits),
            "spans_per_second": round(int(received) / seconds, 3),
        }
    spans = con.execute("SELECT count(*) FROM otel_traces").fetchall()[0][0]
    last = con.execute("SELECT max(committed_at) FROM auditor_batches").fetchall()[0][0]
    return {"spans_stored": int(spans), "last_commit_at": iso(last), **windows}


def unevaluated_since(con: duckdb.DuckDBPyConnection, last_batch: int) -> datetime | None:
    """When the oldest commit after batch ``last_batch`` was made (None: none since)."""
    row = con.execute(
        "SELECT min(committed_at) FROM auditor_batches WHERE batch_id > ?", [last_batch]
    ).fetchall()
    return row[0][0] if row else None


def store_bytes(path: str) -> int:
    """The store file and its write-ahead log, in bytes (0 for an in-memory store)."""
    if path == ":memory:":
        return 0
    total = 0
    for candidate in (Path(path), Path(path + ".wal")):
        with contextlib.suppress(OSError):
            total += os.stat(candidate).st_size
    return total
