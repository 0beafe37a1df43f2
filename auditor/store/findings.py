"""Findings kept in the store, so the TUI and later runs see them without re-evaluating.

``save_findings`` upserts by fingerprint: a finding seen again keeps its triage status,
notes and ``first_seen``; one of the same origin that is no longer produced is marked
``resolved`` (its confirmation arrived, or the input changed). Triage is a person's decision
and is never overwritten here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime

import duckdb
import pyarrow as pa

from auditor.findings.model import Finding, State

_COLUMNS = (
    "fingerprint", "rule_id", "kind", "severity", "state", "system", "job_id", "job_name",
    "queue", "effect_name", "effect_key", "trace_id", "span_id", "service", "attempt",
    "done_ns", "message", "evidence", "labels",
)  # fmt: skip


def _table(findings: list[Finding]) -> pa.Table:
    rows = {c: [] for c in _COLUMNS}  # type: dict[str, list[object]]
    for f in findings:
        d = f.to_dict()
        for c in _COLUMNS:
            if c == "evidence":
                rows[c].append(json.dumps([asdict(e) for e in f.evidence]))
            elif c == "labels":
                rows[c].append(json.dumps(dict(f.labels)))
            elif c == "done_ns":
                rows[c].append(f.done_at_ns)
            else:
                rows[c].append(d[c])
    types = {c: pa.string() for c in _COLUMNS}
    types["attempt"] = pa.int64()
    types["done_ns"] = pa.int64()
    return pa.table({c: pa.array(rows[c], types[c]) for c in _COLUMNS})


def save_findings(
    con: duckdb.DuckDBPyConnection,
    findings: Iterable[Finding],
    origin: str,
    now: datetime,
    rule_ids: Iterable[str],
) -> dict[str, int]:
    """Upsert ``findings`` of one evaluation; resolve earlier ones of ``origin`` from the
    rules that ran (``rule_ids``) that were not seen again. Findings of rules that did not
    run this time are left as they are."""
    rule_ids = sorted(set(rule_ids))
    findings = list(findings)
    incoming = _table(findings)
    cols = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "fingerprint")
    con.begin()
    try:
        con.register("incoming_findings", incoming)
        before = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        con.execute(
            f"""
            INSERT INTO findings ({cols}, origin, first_seen, last_seen)
            SELECT {cols}, ?, ?, ? FROM incoming_findings
            ON CONFLICT (fingerprint) DO UPDATE SET {updates}, origin = excluded.origin,
                last_seen = excluded.last_seen, resolved_at = NULL
            """,
            [origin, now, now],
        )
        after = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        resolved = con.execute(
            """
            UPDATE findings SET state = ?, resolved_at = ?
            WHERE origin = ? AND state <> ?
              AND rule_id IN (SELECT unnest(?::VARCHAR[]))
              AND fingerprint NOT IN (SELECT fingerprint FROM incoming_findings)
            """,
            [str(State.RESOLVED), now, origin, str(State.RESOLVED), rule_ids],
        ).fetchall()[0][0]
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.unregister("incoming_findings")
    return {"new": int(after - before), "seen": len(findings), "resolved": int(resolved)}
