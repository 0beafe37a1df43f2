"""Findings as columns: the Arrow table an evaluation returns, readable as ``Finding`` values.

Pure: pyarrow, no I/O. The engine builds the table in SQL (``engine/findings.py``), one row
per finding, with the fields of ``Finding.to_dict()`` in that order as columns, plus:

- ``json``: the finding's JSON object as text (compact, the ``to_dict()`` keys in order; the
  engine's DuckDB writes it, ``to_table`` writes it with the standard library for findings
  made in Python). ``--format json`` joins these texts without a Python object per field.
- ``severity_rank``: ``Severity.rank``, for sorting and for ``--fail-on`` without parsing.

``FindingTable`` is a read-only sequence of ``Finding`` over such a table, made one finding
at a time when a person looks at one (a report line, the TUI detail, an alert): the table
stays the one copy of the data. Its rows are in report order (``order_key``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any, overload

import pyarrow as pa
import pyarrow.compute as pc

from auditor.findings.model import Finding, Kind, Severity, SpanRef, State, Triage, order_key

JSON_BATCH = 8192  # findings per batch of JSON text

SPAN_REF = pa.struct(
    [
        ("role", pa.string()),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("name", pa.string()),
        ("service", pa.string()),
        ("start_ns", pa.int64()),
        ("end_ns", pa.int64()),
        ("status", pa.string()),
        ("note", pa.string()),
    ]
)

_TYPES: dict[str, pa.DataType] = {
    "attempt": pa.int64(),
    "done_at_ns": pa.int64(),
    "evidence": pa.list_(SPAN_REF),
    "labels": pa.map_(pa.string(), pa.string()),
}
# the columns of Finding.to_dict(), in its order
FINDING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Finding))
SCHEMA = pa.schema(
    [(name, _TYPES.get(name, pa.string())) for name in FINDING_FIELDS]
    + [("severity_rank", pa.int32()), ("json", pa.string())]
)


def finding_json(finding: Finding) -> str:
    """The compact JSON text of one finding (what the engine writes in SQL)."""
    return json.dumps(finding.to_dict(), ensure_ascii=False, separators=(",", ":"))


def to_table(findings: Iterable[Finding]) -> pa.Table:
    """The table of findings made in Python (tests, reports built by hand), in report order."""
    items = sorted(findings, key=order_key)
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for f in items:
        for name in FINDING_FIELDS:
            value = getattr(f, name)
            if name == "evidence":
                value = [{k: getattr(e, k) for k in SPAN_REF.names} for e in value]
            elif name == "labels":
                value = list(value)
            elif name in ("kind", "severity", "state", "triage"):
                value = str(value)
            columns[name].append(value)
        columns["severity_rank"].append(f.severity.rank)
        columns["json"].append(finding_json(f))
    return pa.table({n: pa.array(columns[n], SCHEMA.field(n).type) for n in SCHEMA.names})


def _finding(row: dict[str, Any]) -> Finding:
    row.pop("severity_rank", None)
    row.pop("json", None)
    row["kind"] = Kind(row["kind"])
    row["severity"] = Severity(row["severity"])
    row["state"] = State(row["state"])
    row["triage"] = Triage(row["triage"])
    row["evidence"] = tuple(SpanRef(**e) for e in row["evidence"] or ())
    row["labels"] = tuple(row["labels"] or ())
    return Finding(**row)


class FindingTable(Sequence[Finding]):
    """A read-only sequence of findings over their Arrow table (rows in report order)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> FindingTable:
        if isinstance(findings, FindingTable):
            return findings
        return cls(to_table(findings))

    def __len__(self) -> int:
        return self.table.num_rows

    @overload
    def __getitem__(self, index: int) -> Finding: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Finding]: ...
    def __getitem__(self, index: int | slice) -> Finding | Sequence[Finding]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return _finding(self.table.slice(index, 1).to_pylist()[0])

    def __iter__(self) -> Iterator[Finding]:
        for batch in self.table.to_batches(max_chunksize=4096):
            for row in batch.drop_columns(["json"]).to_pylist():
                yield _finding(row)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FindingTable):
            return self.table.equals(other.table)
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FindingTable({len(self)} findings)"

    def json_batches(self, rows: int | None = None) -> Iterator[pa.Array]:
        """The findings' JSON texts, a string array per batch of ``rows``."""
        rows = rows or JSON_BATCH
        column = self.table.column("json")
        for start in range(0, len(self), rows):
            yield column.slice(start, rows).combine_chunks()

    def counts(self, column: str) -> dict[str, int]:
        """How many findings have each value of ``column`` (e.g. kind, severity, state)."""
        if not len(self):
            return {}
        counted = pc.value_counts(self.table.column(column)).to_pylist()
        return {c["values"]: c["counts"] for c in counted}

    def failing_mask(self, severity: Severity, pending: bool) -> pa.Array:
        """Which findings are at least ``severity`` (and not pending, unless ``pending``)."""
        mask = pc.greater_equal(self.table.column("severity_rank"), severity.rank)
        if not pending:
            mask = pc.and_(mask, pc.not_equal(self.table.column("state"), "pending"))
        return mask

    def at_least(self, severity: Severity, pending: bool = True) -> int:
        """How many findings are at least ``severity`` (pending ones only with ``pending``)."""
        if not len(self):
            return 0
        return int(pc.sum(self.failing_mask(severity, pending)).as_py() or 0)

    def select(self, mask: pa.Array) -> FindingTable:
        return FindingTable(self.table.filter(mask))
