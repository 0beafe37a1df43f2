"""The findings screen's table as pure Arrow work: filter, sort, count, bucket, export.

Pure: pyarrow only, no Textual, no I/O (``export`` writes the file it is given). The
data source hands over one Arrow table of findings (``tui.source``); everything the screen
shows is computed from it with Arrow compute kernels, never with a Python object per row,
so 100k findings filter and sort in milliseconds.

The filter language (the ``/`` bar): whitespace-separated terms, all of which must hold.
``sev:high`` (or ``sev:high,critical``; ``sev>=medium``), ``rule:GLOB``, ``kind:K``,
``system:S``, ``state:S``, ``triage:T``, ``age>10m`` / ``age<2h`` (age of the finding: when
its job was marked done, else when it was first seen); any other word is a case-insensitive
substring of the rule, job name, job id, effect key, service or message.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from auditor.findings.model import Kind, Severity, State, Triage

# (header, source column) of the columns the table shows, in order
# (the short ones first: state, age and triage stay in sight at 80 columns)
SHOWN: tuple[tuple[str, str], ...] = (
    ("sev", "severity"),
    ("state", "state"),
    ("age", "age"),
    ("triage", "triage"),
    ("kind", "kind"),
    ("system", "system"),
    ("rule", "rule_id"),
    ("job", "job_name"),
    ("service", "service"),
)
FACETS = ("sev", "rule", "kind", "system", "state", "triage", "age")
_FACET_COLUMN = {
    "sev": "severity",
    "rule": "rule_id",
    "kind": "kind",
    "system": "system",
    "state": "state",
    "triage": "triage",
}
_TEXT_COLUMNS = ("rule_id", "job_name", "job_id", "effect_key", "service", "message")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE = re.compile(r"^age([<>])(\d+(?:\.\d+)?)([smhd]?)$")
_SEV = re.compile(r"^sev(>=|:)(.+)$")
DEFAULT_SORT = (("severity_rank", "descending"), ("at_ns", "descending"))
# the sort key of each shown column
SORT_KEYS = {"sev": "severity_rank", "age": "at_ns"}


class FilterError(ValueError):
    """A filter term the bar cannot read; the message says which and why."""


@dataclass(frozen=True)
class Query:
    """A parsed filter: facet values (any of, per facet), age bounds, free words."""

    facets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    min_rank: int | None = None
    older_than_s: float | None = None
    newer_than_s: float | None = None
    words: tuple[str, ...] = ()
    text: str = ""


def parse_query(text: str) -> Query:
    """Read the filter bar's text; a malformed term raises ``FilterError``."""
    facets: dict[str, tuple[str, ...]] = {}
    words: list[str] = []
    min_rank = older = newer = None
    for term in text.split():
        low = term.lower()
        sev = _SEV.match(low)
        age = _AGE.match(low)
        if sev:
            values = tuple(v for v in sev.group(2).split(",") if v)
            bad = [v for v in values if v not in Severity.__members__.values()]
            if bad:
                raise FilterError(
                    f"{term}: {bad[0]!r} is not a severity ({', '.join(s.value for s in Severity)})"
                )
            if sev.group(1) == ">=":
                min_rank = max(Severity(v).rank for v in values)
            else:
                facets["sev"] = values
        elif age:
            seconds = float(age.group(2)) * _UNITS[age.group(3) or "s"]
            if age.group(1) == ">":
                older = seconds
            else:
                newer = seconds
        elif low.startswith("age"):
            raise FilterError(f"{term}: write the age as age>10m or age<2h (s, m, h, d)")
        elif ":" in term and term.split(":", 1)[0].lower() in _FACET_COLUMN:
            name, value = term.split(":", 1)
            if not value:
                raise FilterError(f"{term}: give a value after {name}:")
            facets[name.lower()] = tuple(v for v in value.split(",") if v)
        elif ":" in term and term.split(":", 1)[0].lower() not in ("http", "https"):
            name = term.split(":", 1)[0]
            raise FilterError(f"{term}: no facet {name!r}; use one of {', '.join(FACETS)}")
        else:
            words.append(low)
    return Query(tuple(facets.items()), min_rank, older, newer, tuple(words), text)


def with_age(table: pa.Table, now_ns: int) -> pa.Table:
    """``table`` with ``at_ns`` (when the job was marked done, else first seen) and ``age``
    (``42s``, ``5m``, ``3h``, ``2d``) columns, computed column-wise."""
    at = table.column("done_at_ns") if "done_at_ns" in table.column_names else None
    if "first_seen_ns" in table.column_names:
        seen = table.column("first_seen_ns")
        at = seen if at is None else pc.coalesce(at, seen)
    if at is None:
        at = pa.nulls(table.num_rows, pa.int64())
    at = pc.cast(at, pa.int64())
    seconds = pc.max_element_wise(
        pc.divide(pc.subtract(pa.scalar(now_ns), at), 10**9), 0, skip_nulls=False
    )
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count = pc.cast(pc.divide(seconds, size), pa.string())
        parts.append((size, pc.binary_join_element_wise(count, pa.scalar(unit), "")))
    age = parts[-1][1]
    for size, text in reversed(parts[:-1]):
        age = pc.if_else(pc.greater_equal(seconds, size), text, age)
    age = pc.fill_null(age, "-")
    return table.append_column("at_ns", at).append_column("age", age)


def mask(table: pa.Table, query: Query, now_ns: int) -> pa.Array | None:
    """Which rows ``query`` keeps (None: all)."""
    parts: list[pa.Array] = []
    for name, values in query.facets:
        column = table.column(_FACET_COLUMN[name])
        if any(ch in v for v in values for ch in "*?["):
            matched = pc.is_in(
                column, value_set=pa.array(_globbed(table, _FACET_COLUMN[name], values))
            )
        else:
            matched = pc.is_in(
                pc.utf8_lower(column), value_set=pa.array([v.lower() for v in values])
            )
        parts.append(matched)
    if query.min_rank is not None:
        parts.append(pc.greater_equal(table.column("severity_rank"), query.min_rank))
    if query.older_than_s is not None:
        limit = now_ns - int(query.older_than_s * 10**9)
        parts.append(pc.less(table.column("at_ns"), limit))
    if query.newer_than_s is not None:
        limit = now_ns - int(query.newer_than_s * 10**9)
        parts.append(pc.greater(table.column("at_ns"), limit))
    for word in query.words:
        hits = [
            pc.match_substring(pc.fill_null(table.column(c), ""), word, ignore_case=True)
            for c in _TEXT_COLUMNS
            if c in table.column_names
        ]
        any_hit = hits[0]
        for hit in hits[1:]:
            any_hit = pc.or_(any_hit, hit)
        parts.append(any_hit)
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = pc.and_kleene(out, part)
    return pc.fill_null(out, False)


def _globbed(table: pa.Table, column: str, patterns: Sequence[str]) -> list[str]:
    values = [str(v) for v in pc.unique(table.column(column)).to_pylist() if v is not None]
    return [v for v in values if any(fnmatch.fnmatchcase(v, p) for p in patterns)]


@dataclass(frozen=True)
class View:
    """What the findings table shows: the kept rows (sorted) of the source table."""

    rows: pa.Table  # the source table's rows, filtered and sorted
    total: int  # rows in the source table
    sort: tuple[tuple[str, str], ...] = DEFAULT_SORT
    capped_at: int | None = None  # the source held back rows beyond this many

    def display(self) -> pa.Table:
        """The shown columns, under their headers (the table widget's Arrow input)."""
        return pa.table({header: self.rows.column(name) for header, name in SHOWN})

    def caption(self) -> str:
        shown = self.rows.num_rows
        text = (
            f"{shown:,} of {self.total:,} findings"
            if shown != self.total
            else f"{shown:,} findings"
        )
        if self.capped_at is not None:
            text += f" (the source sent the first {self.capped_at:,}: more exist)"
        return text


def build_view(
    table: pa.Table,
    query: Query,
    now_ns: int,
    sort: tuple[tuple[str, str], ...] = DEFAULT_SORT,
    capped_at: int | None = None,
) -> View:
    keep = mask(table, query, now_ns)
    rows = table.filter(keep) if keep is not None else table
    if rows.num_rows:
        rows = rows.sort_by([*list(sort), ("fingerprint", "ascending")])
    return View(rows, table.num_rows, sort, capped_at)


def toggled_sort(current: tuple[tuple[str, str], ...], header: str) -> tuple[tuple[str, str], ...]:
    """The sort after clicking ``header``: by it descending, then ascending, then back."""
    key = SORT_KEYS.get(header) or dict(SHOWN)[header]
    if current and current[0][0] == key:
        order = "ascending" if current[0][1] == "descending" else "descending"
        return ((key, order),)
    return ((key, "descending"),)


def facet_values(table: pa.Table) -> dict[str, list[str]]:
    """The values each facet can take in ``table`` (the filter bar's completions)."""
    out: dict[str, list[str]] = {
        "sev": [s.value for s in Severity],
        "kind": [k.value for k in Kind],
        "state": [s.value for s in State],
        "triage": [t.value for t in Triage],
    }
    for facet in ("rule", "system"):
        column = table.column(_FACET_COLUMN[facet])
        out[facet] = sorted(str(v) for v in pc.unique(column).to_pylist() if v)
    out["age"] = [">5m", ">1h", ">1d", "<1h"]
    return out


def complete(text: str, values: dict[str, list[str]]) -> list[str]:
    """Completions of the filter bar's last term: whole texts, best first."""
    head, _, last = text.rpartition(" ")
    prefix = f"{head} " if head else ""
    if ":" in last or (last.startswith("age") and len(last) > 3):
        name, _, typed = last.partition(":") if ":" in last else ("age", "", last[3:])
        pool = values.get(name.lower(), [])
        sep = ":" if name != "age" else ""
        return [f"{prefix}{name}{sep}{v}" for v in pool if v.startswith(typed)]
    return [f"{prefix}{f}{'' if f == 'age' else ':'}" for f in FACETS if f.startswith(last.lower())]


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    count: int


def rule_counts(rows: pa.Table) -> list[RuleCount]:
    """Findings per rule in ``rows``, most first."""
    if not rows.num_rows:
        return []
    counted = pc.value_counts(rows.column("rule_id")).to_pylist()
    pairs = sorted(((c["counts"], c["values"]) for c in counted), key=lambda p: (-p[0], p[1]))
    return [RuleCount(str(rule), int(n)) for n, rule in pairs]


def histogram(rows: pa.Table, bins: int = 24) -> list[int]:
    """Findings over time (``at_ns``) in ``bins`` equal buckets, oldest first."""
    at = pc.drop_null(rows.column("at_ns")) if rows.num_rows else pa.array([], pa.int64())
    if not len(at):
        return [0] * bins
    lo, hi = pc.min(at).as_py(), pc.max(at).as_py()
    width = max(1, (hi - lo) // bins + 1)
    index = pc.divide(pc.subtract(at, lo), width)
    counts = [0] * bins
    for item in pc.value_counts(index).to_pylist():
        counts[min(bins - 1, int(item["values"]))] += int(item["counts"])
    return counts


EXPORT_FORMATS = ("csv", "json", "parquet")


@dataclass(frozen=True)
class Exported:
    path: Path
    rows: int
    fmt: str = field(default="csv")


def export(rows: pa.Table, path: Path) -> Exported:
    """Write ``rows`` (the filtered view) to ``path`` as CSV, JSON or Parquet, chosen by its
    suffix. Nested columns (evidence, labels) are written as JSON text in CSV."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export to .csv, .json or .parquet, not {path.name!r}")
    table = rows.drop_columns([c for c in ("at_ns", "age") if c in rows.column_names])
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        flat = [
            pc.cast(table.column(i), pa.string())
            if pa.types.is_nested(table.schema.field(i).type) is False
            else pa.array([json.dumps(v) for v in table.column(i).to_pylist()], pa.string())
            for i in range(table.num_columns)
        ]
        pacsv.write_csv(pa.table(flat, names=table.column_names), path)
    else:
        records = table.to_pylist()
        path.write_text(json.dumps({"findings": records}, default=str, indent=1) + "\n")
    return Exported(path, rows.num_rows, fmt)
