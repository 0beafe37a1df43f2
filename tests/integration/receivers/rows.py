"""Reading ``otel_traces`` back with full precision (TIMESTAMP_NS as integers) for comparisons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from auditor.otlp.batch import COLUMNS
from tests.integration.receivers.conftest import AuditServer
from tests.unit.otlp.builders import parse_json_columns


def _select(column: str) -> str:
    if column == "Timestamp":
        return 'epoch_ns("Timestamp")'
    if column == "Events.Timestamp":
        return 'list_transform("Events.Timestamp", lambda t: epoch_ns(t))'
    return f'"{column}"'


ROW_SQL = f"SELECT {', '.join(_select(c) for c in COLUMNS)} FROM otel_traces"


def rows_in(db: Path, where: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Every span column of the rows of store ``db`` in (TraceId, SpanId) order, JSON parsed."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = con.execute(f'{ROW_SQL} {where} ORDER BY "TraceId", "SpanId"', params or [])
        return [parse_json_columns(dict(zip(COLUMNS, r, strict=True))) for r in found.fetchall()]
    finally:
        con.close()


def stored_rows(
    server: AuditServer, where: str = "", params: list[Any] | None = None
) -> list[dict[str, Any]]:
    assert not server.running(), "the store is locked while audit serve runs"
    return rows_in(server.db, where, params)
