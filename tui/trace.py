"""A finding's trace as rows of a waterfall, its lie in words, and a lying run beside an honest
one. Pure: plain data in, plain data out; the widgets draw it.

- ``waterfall_rows``: the spans in tree order (children under their parent, by start time)
  with their depth and tree gutter, the span that said "done" marked, and a *ghost* row for
  the confirmation that should exist, placed under the job run where it was expected.
- ``broken_notes``: what is wrong with the trace itself, in words (a parent that is not in
  it, a confirmation that ended after the job said done, a truncated trace).
- ``explain``: what the rule expected and what is missing, in sentences.
- ``align``: two traces side by side, spans paired by name in order, differences flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.findings.model import Finding, Kind

GHOST = "ghost"


@dataclass(frozen=True)
class Row:
    span_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    depth: int
    gutter: str  # tree drawing before the name ("├─ ", "│  └─ ", …)
    status: str = ""
    events: tuple[tuple[int, str], ...] = ()  # (time_ns, name)
    marks: tuple[str, ...] = ()  # "done" (said done), "effect", "failed", "ghost", "miss"
    attributes: dict[str, Any] = field(default_factory=dict)
    kind: str = ""

    @property
    def ghost(self) -> bool:
        return GHOST in self.marks


def _marks(span: dict[str, Any], finding: Finding) -> tuple[str, ...]:
    marks = []
    roles = {e.span_id: e.role for e in finding.evidence}
    sid = span["span_id"]
    if sid == finding.span_id or any(e.get("name") == "job.done" for e in span.get("events", ())):
        marks.append("done")
    role = roles.get(sid)
    if role == "effect":
        marks.append("effect")
    if role == "nearest_miss":
        marks.append("miss")
    if span.get("status") == "Error" or role == "failed_span":
        marks.append("failed")
    return tuple(marks)


def waterfall_rows(spans: Sequence[dict[str, Any]], finding: Finding | None) -> list[Row]:
    """The spans in tree order with gutters; with ``finding``, its marks and ghost row."""
    by_id = {s["span_id"]: s for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for span in spans:
        parent = span.get("parent_span_id") or ""
        if parent and parent in by_id:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    rows: list[Row] = []

    def walk(span: dict[str, Any], depth: int, prefix: str, last: bool) -> None:
        gutter = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        events = tuple((int(e["time_ns"]), str(e["name"])) for e in span.get("events", ()))
        marks = _marks(span, finding) if finding is not None else ()
        rows.append(
            Row(
                span["span_id"],
                span["name"],
                span.get("service", ""),
                int(span["start_ns"]),
                int(span["end_ns"]),
                depth,
                gutter,
                span.get("status", ""),
                events,
                marks,
                dict(span.get("attributes") or {}),
                span.get("kind", ""),
            )
        )
        kids = sorted(
            children.get(span["span_id"], ()), key=lambda s: (s["start_ns"], s["span_id"])
        )
        inner = "" if depth == 0 else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, depth + 1, inner, i == len(kids) - 1)
        if finding is not None and span["span_id"] == finding.span_id and _wants_ghost(finding):
            rows.append(_ghost(finding, span, depth + 1, inner))

    roots.sort(key=lambda s: (s["start_ns"], s["span_id"]))
    for root in roots:
        walk(root, 0, "", True)
    return rows


def _wants_ghost(finding: Finding) -> bool:
    return finding.kind in (Kind.UNCONFIRMED_DONE, Kind.FAILED_EFFECT, Kind.PREMATURE_DONE)


def _ghost(finding: Finding, run: dict[str, Any], depth: int, prefix: str) -> Row:
    what = finding.effect_name or "confirmation"
    key = f" key={finding.effect_key}" if finding.effect_key else ""
    end = int(finding.done_at_ns or run["end_ns"])
    text = (
        f"missing: side_effect.confirm {what}{key} (expected before done)"
        if finding.kind is not Kind.PREMATURE_DONE
        else f"expected: {what}{key} ending before done"
    )
    return Row("", text, "", end, end, depth, prefix + "└┄ ", "", (), (GHOST,))


def lie_index(rows: Sequence[Row]) -> int:
    """The row to jump to: the ghost, else the span that said done, else a failed one."""
    for mark in (GHOST, "done", "failed", "effect"):
        for i, row in enumerate(rows):
            if mark in row.marks:
                return i
    return 0


def broken_notes(
    spans: Sequence[dict[str, Any]], finding: Finding | None, truncated: bool = False
) -> list[str]:
    """What is wrong with the trace as a trace, in sentences."""
    notes = []
    ids = {s["span_id"] for s in spans}
    orphans = [s for s in spans if s.get("parent_span_id") and s["parent_span_id"] not in ids]
    if orphans:
        names = ", ".join(sorted({s["name"] for s in orphans})[:3])
        notes.append(
            f"{len(orphans)} span(s) name a parent that is not in this trace ({names}): "
            "a process exported part of the trace, or died before exporting its spans."
        )
    if truncated:
        notes.append("The trace is longer than the store sends; only its first spans are drawn.")
    if not spans:
        notes.append(
            "No span of this trace is in the store (retention removed it, or it never arrived)."
        )
    if finding is not None and finding.done_at_ns:
        late = [
            s
            for s in spans
            if s["name"] == "side_effect.confirm" and int(s["end_ns"]) > finding.done_at_ns
        ]
        for span in late:
            ms = (int(span["end_ns"]) - finding.done_at_ns) / 1e6
            notes.append(
                f"A confirmation ({span['span_id'][:8]}) ended {ms:.1f} ms after the job said done."
            )
    return notes


def explain(finding: Finding) -> tuple[str, str]:
    """(what was expected, what is missing or wrong), in words."""
    job = f"{finding.system} job {finding.job_name or '?'} ({finding.job_id or 'no id'})"
    effect = finding.effect_name or "its side effect"
    key = f" with key {finding.effect_key}" if finding.effect_key else ""
    expected = f"When {job} is marked done, a confirmation of {effect}{key} exists before it."
    missing = {
        Kind.UNCONFIRMED_DONE: f"It said done, and no confirmation of {effect}{key} was found.",
        Kind.PREMATURE_DONE: f"It said done before its {effect} confirmation finished.",
        Kind.DUPLICATE_EFFECT: f"{effect}{key} was confirmed more than once: the side effect was repeated.",
        Kind.FAILED_EFFECT: f"It said done while a span under it failed: the failure of {effect} was swallowed.",
        Kind.LOST_JOB: "It was enqueued and never ran: no run of it was recorded by the deadline.",
    }[finding.kind]
    if finding.kind is Kind.DUPLICATE_EFFECT:
        expected = f"{effect}{key} is performed at most once, whichever job or retry performs it."
    if finding.kind is Kind.LOST_JOB:
        expected = f"Every enqueued {job} runs (done or failed) before its deadline."
    return expected, missing


def nearest_misses(finding: Finding) -> list[str]:
    """The spans that almost satisfied the rule, with why they did not."""
    out = []
    for ref in finding.evidence:
        if ref.role == "nearest_miss":
            out.append(ref.note or f"{ref.name} ({ref.span_id[:8]}) did not match")
    return out


@dataclass(frozen=True)
class Pair:
    name: str
    lying: Row | None
    honest: Row | None

    @property
    def differs(self) -> bool:
        if self.lying is None or self.honest is None:
            return True
        return self.lying.status != self.honest.status


def align(lying: Sequence[Row], honest: Sequence[Row]) -> list[Pair]:
    """Pair the two runs' spans by name, in order: the n-th span of a name on one side with
    the n-th of that name on the other; a span with no partner (or a ghost) stands alone."""
    used: dict[str, int] = {}
    by_name: dict[str, list[Row]] = {}
    for row in honest:
        by_name.setdefault(row.name, []).append(row)
    pairs: list[Pair] = []
    matched: set[int] = set()
    for row in lying:
        if row.ghost:
            continue
        n = used.get(row.name, 0)
        partners = by_name.get(row.name, [])
        partner = partners[n] if n < len(partners) else None
        used[row.name] = n + 1
        if partner is not None:
            matched.add(id(partner))
        pairs.append(Pair(row.name, row, partner))
    for row in honest:
        if id(row) not in matched:
            pairs.append(Pair(row.name, None, row))
    return pairs
