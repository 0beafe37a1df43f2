"""Evidence for findings: the spans that show what happened, and the nearest misses.

For every finding: the job run span (or the enqueue span of a lost job), the spans its check
pointed at (the late effect, the failed span, the repeated confirmations, the stall signal),
and, for an unconfirmed job, up to three *nearest misses*: confirmations that almost matched
(the right effect in the job's trace but for another job, the job's confirmation in another
trace, the closest confirmation of that effect in time). Looked up in bulk, one query per
evidence kind, never one query per finding.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import pyarrow as pa

from auditor.findings.messages import duration_text, short_id
from auditor.findings.model import Finding, Kind, SpanRef

MISSES_PER_FINDING = 3

_ROLE_OF_RELATED = {
    Kind.PREMATURE_DONE: "effect",
    Kind.DUPLICATE_EFFECT: "effect",
    Kind.FAILED_EFFECT: "failed_span",
    Kind.LOST_JOB: "signal",
    Kind.UNCONFIRMED_DONE: "effect",
}

_SPANS_SQL = """
SELECT s."TraceId", s."SpanId", s."SpanName", s."ServiceName", epoch_ns(s."Timestamp"),
       epoch_ns(s."Timestamp") + s."Duration", s."StatusCode", s."StatusMessage"
FROM otel_traces AS s
SEMI JOIN evidence_refs AS r ON r.trace_id = s."TraceId" AND r.span_id = s."SpanId"
"""

# Nearest misses, cheapest first: effects in the job's trace, effects carrying the job's id in
# another trace, and the effect of the expected name that ended closest before and after
# done_at (two ASOF joins: one row each, never a range join over every effect nearby).
_EFFECT_COLUMNS = "e.trace_id, e.span_id, e.span_name, e.service, e.start_ns, e.end_ns, e.ok, e.effect_name, e.effect_key, e.job_id"
_MISSES_SQL = f"""
WITH f AS (SELECT * FROM evidence_unconfirmed),
c AS (
    SELECT f.idx, f.done_ns, 1 AS rank, {_EFFECT_COLUMNS}, 'in the job''s trace' AS why
    FROM f JOIN effects AS e ON e.trace_id = f.trace_id
    UNION ALL
    SELECT f.idx, f.done_ns, 2 AS rank, {_EFFECT_COLUMNS}, 'same job id, another trace' AS why
    FROM f JOIN effects AS e ON e.job_id = f.job_id AND e.trace_id <> f.trace_id
    WHERE f.job_id <> ''
    UNION ALL
    SELECT f.idx, f.done_ns, 3 AS rank, {_EFFECT_COLUMNS}, 'nearest in time' AS why
    FROM f ASOF JOIN effects AS e ON e.effect_name = f.effect_name AND f.done_ns >= e.end_ns
    WHERE e.trace_id <> f.trace_id
    UNION ALL
    SELECT f.idx, f.done_ns, 3 AS rank, {_EFFECT_COLUMNS}, 'nearest in time' AS why
    FROM f ASOF JOIN effects AS e ON e.effect_name = f.effect_name AND f.done_ns <= e.end_ns
    WHERE e.trace_id <> f.trace_id
)
SELECT idx, trace_id, span_id, span_name, service, start_ns, end_ns, ok, effect_name,
       effect_key, job_id, why, end_ns - done_ns AS offset_ns
FROM c
QUALIFY row_number() OVER (PARTITION BY idx ORDER BY rank, abs(end_ns - done_ns), span_id)
        <= {MISSES_PER_FINDING}
"""


def _spans(
    con: duckdb.DuckDBPyConnection, refs: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple]:
    if not refs:
        return {}
    table = pa.table({"trace_id": [t for t, _ in refs], "span_id": [s for _, s in refs]})
    con.register("evidence_refs", table)
    try:
        rows = con.execute(_SPANS_SQL).fetchall()
    finally:
        con.unregister("evidence_refs")
    return {(r[0], r[1]): r for r in rows}


def _ref(
    role: str, key: tuple[str, str], spans: dict[tuple[str, str], tuple], note: str = ""
) -> SpanRef:
    row = spans.get(key)
    if row is None:  # referenced but not stored (e.g. evicted): still name it
        return SpanRef(role=role, trace_id=key[0], span_id=key[1], name="", note=note)
    return SpanRef(
        role=role,
        trace_id=row[0],
        span_id=row[1],
        name=row[2],
        service=row[3],
        start_ns=row[4],
        end_ns=row[5],
        status=row[6],
        note=note or (row[7] or ""),
    )


def _misses(con: duckdb.DuckDBPyConnection, findings: list[Finding]) -> dict[int, list[SpanRef]]:
    wanted = [(i, f) for i, f in enumerate(findings) if f.kind is Kind.UNCONFIRMED_DONE]
    if not wanted:
        return {}
    table = pa.table(
        {
            "idx": [i for i, _ in wanted],
            "trace_id": [f.trace_id for _, f in wanted],
            "job_id": [f.job_id for _, f in wanted],
            "done_ns": pa.array([f.done_at_ns or 0 for _, f in wanted], pa.int64()),
            "effect_name": [f.effect_name for _, f in wanted],
        }
    )
    con.register("evidence_unconfirmed", table)
    try:
        rows = con.execute(_MISSES_SQL).fetchall()
    finally:
        con.unregister("evidence_unconfirmed")
    out: dict[int, list[SpanRef]] = {}
    for idx, trace, span, name, service, start, end, ok, effect, key, job_id, why, offset in rows:
        finding = findings[idx]
        parts = [f"{effect} confirmation"]
        if key:
            parts.append(f"key {key}")
        if job_id:
            parts.append(f"job.id {short_id(job_id)}")
        if not ok:
            parts.append("it failed")
        if effect != finding.effect_name and finding.effect_name:
            parts.append(f"expected {finding.effect_name}")
        when = "after" if offset >= 0 else "before"
        parts.append(f"{duration_text(abs(offset))} {when} done")
        note = f"{why}: " + ", ".join(parts)
        out.setdefault(idx, []).append(
            SpanRef(
                "nearest_miss",
                trace,
                span,
                name,
                service,
                start,
                end,
                "Ok" if ok else "Error",
                note,
            )
        )
    return out


def _pair(ref: str) -> tuple[str, str]:
    trace, span = ref.split("/", 1)
    return trace, span


def attach_evidence(
    con: duckdb.DuckDBPyConnection, found: list[tuple[Finding, tuple[str, ...]]]
) -> list[Finding]:
    """The findings with their ``evidence`` filled in."""
    refs: set[tuple[str, str]] = set()
    parsed: list[list[tuple[str, str]]] = []
    for finding, related in found:
        pairs = [_pair(r) for r in related if "/" in r]
        parsed.append(pairs)
        refs.update(pairs)
        if finding.span_id:
            refs.add((finding.trace_id, finding.span_id))
    spans = _spans(con, refs)
    findings = [f for f, _ in found]
    # the nearest misses are looked up while this thread makes the other evidence (DuckDB
    # releases the interpreter while it works)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditor-evidence") as lookup:
        misses_of = lookup.submit(_misses, con, findings)
        shown = _shown(findings, parsed, spans)
        misses = misses_of.result()
    return [
        finding.with_evidence((*evidence, *misses.get(i, ())))
        for i, (finding, evidence) in enumerate(zip(findings, shown, strict=True))
    ]


def _shown(
    findings: list[Finding],
    parsed: list[list[tuple[str, str]]],
    spans: dict[tuple[str, str], tuple],
) -> list[list[SpanRef]]:
    """Each finding's job run (or enqueue) span and the spans its check pointed at."""
    made: dict[tuple[str, tuple[str, str]], SpanRef] = {}  # several rules show the same spans

    def ref(role: str, key: tuple[str, str]) -> SpanRef:
        span = made.get((role, key))
        if span is None:
            span = made[role, key] = _ref(role, key, spans)
        return span

    out = []
    for finding, pairs in zip(findings, parsed, strict=True):
        evidence: list[SpanRef] = []
        if finding.span_id:
            role = "enqueue" if finding.kind is Kind.LOST_JOB else "job_run"
            evidence.append(ref(role, (finding.trace_id, finding.span_id)))
        role = _ROLE_OF_RELATED[finding.kind]
        evidence += [ref(role, pair) for pair in sorted(set(pairs))]
        out.append(evidence)
    return out
