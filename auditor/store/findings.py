"""Findings kept in the store, so the TUI and later runs see them without re-evaluating.

``save_findings`` upserts by fingerprint with one ``INSERT … SELECT`` from the findings'
Arrow table (no Python object per finding): a finding seen again keeps its triage status,
notes and ``first_seen``; one of the same origin that is no longer produced is marked
``resolved`` (its confirmation arrived, or the input changed). Triage is a person's decision
and is never overwritten here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from auditor.findings.model import Finding, State
from auditor.findings.table import FindingTable

_COLUMNS = (
    "fingerprint", "rule_id", "kind", "severity", "state", "system", "job_id", "job_name",
    "queue", "effect_name", "effect_key", "trace_id", "span_id", "service", "attempt",
    "done_ns", "message", "evidence", "labels",
)  # fmt: skip
# how each stored column is read from the findings table (the rest under their own name)
_READ = {"done_ns": "done_at_ns", "evidence": "to_json(evidence)", "labels": "to_json(labels)"}


@dataclass(frozen=True)
class Saved:
    new: int  # findings not in the store before
    seen: int  # findings of this evaluation
    resolved: int  # earlier findings no longer produced, now resolved
    opened: tuple[str, ...] = ()  # fingerprints open now that were not open before
    closed: tuple[str, ...] = ()  # fingerprints that were open and are resolved now


def save_findings(
    con: duckdb.DuckDBPyConnection,
    findings: Iterable[Finding],
    origin: str,
    now: datetime,
    rule_ids: Iterable[str],
    scope: str | None = None,
) -> Saved:
    """Upsert ``findings`` of one evaluation; resolve earlier ones of ``origin`` from the
    rules that ran (``rule_ids``) that were not seen again. Findings of rules that did not
    run this time are left as they are. Says which findings opened (are open now and were
    not before) and which open ones resolved: the changes a person is told about.

    ``scope``: a condition on ``findings`` rows naming what this evaluation re-judged (the
    sidecar's incremental tick judges some traces, keys and jobs, not the store); a finding
    outside it is left as it is, seen again or not."""
    within = f"AND ({scope})" if scope else ""
    rule_ids = sorted(set(rule_ids))
    incoming = FindingTable.of(findings).table
    cols = ", ".join(_COLUMNS)
    reads = ", ".join(_READ.get(c, c) for c in _COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "fingerprint")
    con.begin()
    try:
        con.register("incoming_findings", incoming)
        before = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        opened = con.execute(
            """
            SELECT i.fingerprint FROM incoming_findings AS i
            LEFT JOIN findings AS f ON f.fingerprint = i.fingerprint
            WHERE i.state = 'open' AND (f.fingerprint IS NULL OR f.state <> 'open')
            ORDER BY i.fingerprint
            """
        ).fetchall()
        closed = con.execute(
            f"""
            SELECT fingerprint FROM findings
            WHERE origin = ? AND state = 'open' AND rule_id IN (SELECT unnest(?::VARCHAR[]))
              AND fingerprint NOT IN (SELECT fingerprint FROM incoming_findings) {within}
            ORDER BY fingerprint
            """,
            [origin, rule_ids],
        ).fetchall()
        con.execute(
            f"""
            INSERT INTO findings ({cols}, origin, first_seen, last_seen)
            SELECT {reads}, ?, ?, ? FROM incoming_findings
            ON CONFLICT (fingerprint) DO UPDATE SET {updates}, origin = excluded.origin,
                last_seen = excluded.last_seen, resolved_at = NULL
            """,
            [origin, now, now],
        )
        after = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        resolved = con.execute(
            f"""
            UPDATE findings SET state = ?, resolved_at = ?
            WHERE origin = ? AND state <> ?
              AND rule_id IN (SELECT unnest(?::VARCHAR[]))
              AND fingerprint NOT IN (SELECT fingerprint FROM incoming_findings) {within}
            """,
            [str(State.RESOLVED), now, origin, str(State.RESOLVED), rule_ids],
        ).fetchall()[0][0]
        con.commit()
    except Exception:
        con.rollback()
        raise
    finally:
        con.unregister("incoming_findings")
    return Saved(
        new=int(after - before),
        seen=incoming.num_rows,
        resolved=int(resolved),
        opened=tuple(str(r[0]) for r in opened),
        closed=tuple(str(r[0]) for r in closed),
    )
