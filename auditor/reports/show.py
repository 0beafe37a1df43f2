"""``audit show FINGERPRINT``: one finding as a person reads it, as plain text.

Pure: ``render(shown)`` returns the text. In order: the verdict (kind, severity, state) and
the message; what the rule expected and what is missing, in words; the rule and where it is
defined; the job run (full ids, queue, attempt, when it said done); the trace's spans as an
indented tree with times relative to the trace's first span, the spans the finding points at
marked with their role and the moment the job said done drawn as a line; and the nearest
misses (confirmations that almost matched). Span data is neutralised for a terminal.
"""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.findings.model import Finding, Kind
from auditor.findings.shown import Shown, TraceSpan
from auditor.reports import common

_EXPECTED = {
    Kind.UNCONFIRMED_DONE: (
        "a confirmation of {effect} belonging to this job run",
        "no confirmation was found",
    ),
    Kind.PREMATURE_DONE: (
        "{effect} confirmed before the job was marked done",
        "the confirmation finished after the job said done",
    ),
    Kind.DUPLICATE_EFFECT: (
        "{effect} confirmed at most once per key",
        "the same key was confirmed more than once: the side effect was repeated",
    ),
    Kind.FAILED_EFFECT: (
        "{effect} confirmed, or the job not marked done",
        "the effect was not confirmed and a span under the job failed: the failure was swallowed",
    ),
    Kind.LOST_JOB: (
        "a run of the enqueued job within the rule's complete_within",
        "no run of it was recorded: the worker may have died with the job",
    ),
}


def _time(ns: int | None) -> str:
    if ns is None:
        return "-"
    moment = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _offset(ns: int, origin: int) -> str:
    return f"+{(ns - origin) / 1e6:,.1f} ms"


def _tree(trace: tuple[TraceSpan, ...]) -> list[tuple[int, TraceSpan]]:
    """The spans depth-first by start time, with their depth (orphans at the top level)."""
    ids = {s.span_id for s in trace}
    children: dict[str, list[TraceSpan]] = {}
    roots = []
    for span in trace:
        if span.parent_span_id and span.parent_span_id in ids:
            children.setdefault(span.parent_span_id, []).append(span)
        else:
            roots.append(span)
    out: list[tuple[int, TraceSpan]] = []
    stack = [(0, s) for s in reversed(roots)]
    while stack:
        depth, span = stack.pop()
        out.append((depth, span))
        stack += [(depth + 1, c) for c in reversed(children.get(span.span_id, []))]
    return out


def _trace_lines(shown: Shown) -> list[str]:
    f = shown.finding
    if not shown.trace:
        return ["  (no spans of this trace are stored)"]
    roles = {e.span_id: e.role for e in f.evidence if e.role != "nearest_miss"}
    origin = min(s.start_ns for s in shown.trace)
    lines = []
    for depth, span in _tree(shown.trace):
        name = common.single_line(span.name)
        where = ", ".join(x for x in (span.kind.lower(), common.single_line(span.service)) if x)
        text = (
            f"  {_offset(span.start_ns, origin):>14}  {(span.end_ns - span.start_ns) / 1e6:>9,.1f} ms  "
            f"{'  ' * depth}{name} [{where}]"
        )
        if span.status == "Error":
            text += " ERROR" + (
                f": {common.single_line(span.status_message)}" if span.status_message else ""
            )
        if span.span_id in roles:
            text += f"  <- {roles[span.span_id]}"
        lines.append(text)
        if span.span_id == f.span_id and f.done_at_ns is not None:
            lines.append(
                f"  {_offset(f.done_at_ns, origin):>14}  {'':>12}  {'  ' * (depth + 1)}"
                "-- marked done here"
            )
    return lines


def _job_lines(f: Finding) -> list[str]:
    if f.kind is Kind.DUPLICATE_EFFECT and not f.span_id:
        jobs = ", ".join(f.job_id.split(",")) or "-"
        return [f"Jobs      {f.system} {f.job_name or '-'}: {jobs}"]
    lines = [f"Job       {f.system} {f.job_name or '-'} {f.job_id or '-'}"]
    details = []
    if f.queue:
        details.append(f"queue {f.queue}")
    if f.attempt is not None:
        details.append(f"attempt {f.attempt}")
    if f.done_at_ns is not None:
        details.append(f"marked done at {_time(f.done_at_ns)}")
    if f.service:
        details.append(f"service {f.service}")
    if details:
        lines.append("          " + ", ".join(common.single_line(d) for d in details))
    lines.append(f"          trace {f.trace_id or '-'}  span {f.span_id or '-'}")
    return lines


def render(shown: Shown) -> str:
    f = shown.finding
    rule = shown.rule
    effect = f"'{f.effect_name}'" if f.effect_name else "the expected effect"
    expected, missing = _EXPECTED[f.kind]
    where = common.rule_path(rule)
    if where and rule.line:
        where += f":{rule.line}"
    lines = [
        f"{f.kind}  {f.severity}  {f.state}  fingerprint {f.fingerprint}",
        common.single_line(f.message),
        "",
        f"Expected  {expected.format(effect=effect)}"
        + (f" (key {f.effect_key})" if f.effect_key else ""),
        f"Missing   {missing}",
        f"Rule      {rule.id}"
        + (f": {common.single_line(rule.title)}" if rule.title != rule.id else ""),
        f"          {where or 'built in (auditor rule packs)'}",
    ]
    if rule.runbook:
        lines.append(f"          runbook {rule.runbook}")
    lines += _job_lines(f)
    lines += ["", f"Trace {f.trace_id} ({common.plural(len(shown.trace), 'span')})"]
    lines += _trace_lines(shown)
    misses = [e for e in f.evidence if e.role == "nearest_miss"]
    lines += ["", "Nearest misses" + ("" if misses else ": none")]
    for e in misses:
        lines.append(f"  {common.single_line(e.note)}")
        lines.append(f"    trace {e.trace_id} span {e.span_id} ({common.single_line(e.name)})")
    return "\n".join(lines) + "\n"
