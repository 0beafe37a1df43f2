"""What the API's two ends agree on: request and answer values, page cursors, findings and
rules as JSON, and a whole scan report as Arrow. Pure: no I/O, no clock.

- ``ApiRequest`` / ``ApiResponse`` are what a front end hands the store process and gets
  back (picklable, so they cross the front-end workers' pipes).
- A page cursor is opaque to clients: URL-safe base64 of the last row's sort key
  (severity rank, ``last_seen`` in epoch microseconds, fingerprint). ``decode_cursor`` raises
  ``ValueError`` for anything it did not make.
- ``finding_from_json`` turns a finding object of the API (``Finding.to_dict()`` plus the
  store's fields) back into a ``Finding``; ``rule_to_json`` / ``rule_from_json`` do the same
  for a ``RuleInfo``.
- ``report_to_arrow`` / ``report_from_arrow``: a scan ``Report`` (its findings table as it
  is, JSON texts included, so a report rendered from it is byte for byte the one the server
  would render) and the scan's warnings, as one Arrow IPC stream whose schema metadata holds
  the rest of the report as JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from auditor.findings.model import Finding, Kind, RuleInfo, Severity, SpanRef, State, Triage
from auditor.findings.report import CheckedJob, Report
from auditor.findings.table import FINDING_FIELDS, SCHEMA, FindingTable

JSON_TYPE = "application/json"
ARROW_TYPE = "application/vnd.apache.arrow.stream"
_REPORT_KEY = b"auditor.report"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    accept: str = ""

    def param(self, name: str) -> str | None:
        """The last value of query parameter ``name``."""
        values = self.params(name)
        return values[-1] if values else None

    def params(self, name: str) -> list[str]:
        """Every value of ``name`` (repeated, or comma-separated; empty ones too)."""
        return [v for k, value in self.query if k == name for v in value.split(",")]


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> ApiResponse:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)
        return cls(status, text.encode(), JSON_TYPE, headers or {})

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> ApiResponse:
        return cls.json(status, {"error": message}, headers)


# ---------------------------------------------------------------------- cursors


def encode_cursor(rank: int, last_seen_us: int, fingerprint: str) -> str:
    raw = json.dumps([rank, last_seen_us, fingerprint], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, int, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        rank, last_seen_us, fingerprint = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise ValueError(f"'after' is not a cursor this API gave: {text!r}") from None
    if not (
        isinstance(rank, int)
        and isinstance(last_seen_us, int)
        and isinstance(fingerprint, str)
        and not isinstance(rank, bool)
        and not isinstance(last_seen_us, bool)
    ):
        raise ValueError(f"'after' is not a cursor this API gave: {text!r}")
    return rank, last_seen_us, fingerprint


# ---------------------------------------------------------------------- findings and rules


def finding_from_json(obj: dict[str, Any]) -> Finding:
    """A ``Finding`` from an API finding object (extra fields are ignored)."""
    row: dict[str, Any] = {name: obj.get(name) for name in FINDING_FIELDS}
    row["kind"] = Kind(row["kind"])
    row["severity"] = Severity(row["severity"])
    row["state"] = State(row["state"])
    row["triage"] = Triage(row["triage"])
    row["evidence"] = tuple(SpanRef(**e) for e in row["evidence"] or ())
    row["labels"] = tuple((row["labels"] or {}).items())
    for name in ("queue", "span_id", "effect_name", "service"):
        row[name] = row[name] or ""
    return Finding(**row)


def rule_to_json(info: RuleInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "severity": str(info.severity),
        "description": info.description,
        "runbook": info.runbook,
        "source": info.source,
        "line": info.line,
        "labels": dict(info.labels),
    }


def rule_from_json(obj: dict[str, Any]) -> RuleInfo:
    return RuleInfo(
        obj["id"],
        obj["title"],
        Severity(obj["severity"]),
        obj.get("description", ""),
        obj.get("runbook", ""),
        obj.get("source", ""),
        int(obj.get("line", 0)),
        tuple((obj.get("labels") or {}).items()),
    )


# ---------------------------------------------------------------------- a scan report


def report_to_arrow(report: Report, warnings: list[dict[str, str]]) -> bytes:
    """``report`` (its findings before any client-side baseline) and the scan's warnings."""
    rest = {
        "rules": [rule_to_json(info) for info in report.rules.values()],
        "checked": [[c.rule_id, c.system, c.job_id, c.job_name] for c in report.checked],
        "jobs_checked": report.jobs_checked,
        "inputs": list(report.inputs),
        "spans": report.spans,
        "tool_version": report.tool_version,
        "job_runs": report.job_runs,
        "judged": report.judged,
        "warnings": warnings,
    }
    table = report.table.table
    table = table.replace_schema_metadata({_REPORT_KEY: json.dumps(rest).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def report_from_arrow(data: bytes) -> tuple[Report, list[dict[str, str]]]:
    """The report ``report_to_arrow`` wrote (``fail_on`` and the rest left to the caller:
    ``dataclasses.replace``), and the warnings."""
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        rest = json.loads((table.schema.metadata or {})[_REPORT_KEY])
    except (pa.ArrowInvalid, KeyError, ValueError) as exc:
        raise ValueError(f"the server's report could not be read: {exc}") from None
    table = table.replace_schema_metadata(None).cast(SCHEMA)
    rules = {r["id"]: rule_from_json(r) for r in rest["rules"]}
    report = Report(
        findings=FindingTable(table),
        rules=rules,
        checked=tuple(CheckedJob(*c) for c in rest["checked"]),
        jobs_checked=rest["jobs_checked"],
        inputs=tuple(rest["inputs"]),
        spans=rest["spans"],
        tool_version=rest["tool_version"],
        job_runs=rest["job_runs"],
        judged=rest["judged"],
    )
    return report, list(rest["warnings"])
