"""Where the TUI's data comes from: one ``Source`` protocol, three implementations.

- ``ApiSource``: a running ``audit serve`` over its HTTP JSON API (``auditor.api.client``).
- ``StoreSource``: a store file (``--db``). Reads open it read-only for the moment of the read;
  a triage action opens it for writing for the moment of the write (so a store that ``audit
  serve`` holds is refused with a sentence saying so: use ``--server`` then).
- ``MemorySource`` (``files_source``): span files loaded into an in-memory store, evaluated
  once, and kept for the session; triage there lasts as long as the TUI.

Every method does blocking I/O and is called from a Textual thread worker, never from the
event loop. Errors the user can cause (an unreachable server, a locked store, a bad triage
transition) raise ``SourceError`` with one readable sentence.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from auditor.api import queries
from auditor.api.client import ApiClient
from auditor.api.wire import finding_from_json
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import evaluate
from auditor.engine.scan import rule_infos
from auditor.errors import AuditError
from auditor.findings.model import Finding, Severity
from auditor.receivers.files import ingest_files
from auditor.store.duck import DuckStore
from auditor.store.findings import save_findings
from auditor.store.triage import (
    Action,
    NoSuchFinding,
    TriageConflict,
    active_mutes,
    apply_triage,
    mute_rule,
)

# The most findings a source sends the table; beyond it the screen says "M of N".
MAX_FINDINGS = 1_000_000
_RANK = {s.value: s.rank for s in Severity}


class SourceError(Exception):
    """A failure the user can act on, in one sentence."""


@dataclass(frozen=True)
class Loaded:
    """The findings table a source sent, and how many exist when it sent fewer."""

    table: pa.Table
    total: int


@dataclass(frozen=True)
class Detail:
    """One finding with what the detail screen shows beside it."""

    finding: Finding
    notes: tuple[dict[str, Any], ...]
    spans: tuple[dict[str, Any], ...]  # its trace (with attributes, and events when known)
    truncated: bool = False
    muted_until: str | None = None


@dataclass(frozen=True)
class RuleRow:
    rule_id: str
    title: str
    severity: str
    counts: dict[str, int]  # by state
    triage: dict[str, int]  # by effective triage
    muted_until: str | None
    yaml: str  # the rule as written ("" when unknown here)
    sql: str  # what audit rules explain prints ("" when unknown here)


@dataclass(frozen=True)
class Stats:
    lines: tuple[tuple[str, str], ...]  # (what, value)
    missing: str = ""  # what this source cannot tell, in words


class Source(Protocol):
    """What the app reads and writes; every call blocks (run it in a worker)."""

    label: str  # e.g. "store ./auditor.duckdb"
    persistent: bool  # triage outlives the TUI

    def findings(self) -> Loaded: ...

    def detail(self, fingerprint: str) -> Detail: ...

    def honest_trace(self, finding: Finding) -> tuple[str | None, str]: ...

    def trace(self, trace_id: str) -> tuple[dict[str, Any], ...]: ...

    def triage(self, fingerprint: str, action: Action, note: str) -> None: ...

    def mute(self, rule_id: str, seconds: float, note: str) -> None: ...

    def rules(self) -> list[RuleRow]: ...

    def stats(self) -> Stats: ...

    def close(self) -> None: ...


def author() -> str:
    """Who triage notes name: $AUDIT_AUTHOR, else the login name."""
    with contextlib.suppress(Exception):
        return os.environ.get("AUDIT_AUTHOR") or getpass.getuser()
    return "tui"


def _with_rank(table: pa.Table) -> pa.Table:
    if "severity_rank" in table.column_names:
        return table
    keys = pa.array(list(_RANK))
    ranks = pc.take(
        pa.array(list(_RANK.values()), pa.int32()), pc.index_in(table.column("severity"), keys)
    )
    return table.append_column("severity_rank", ranks)


def _with_seen_ns(table: pa.Table) -> pa.Table:
    """``first_seen`` (a timestamp, or ISO text from the API) as ``first_seen_ns``."""
    if "first_seen" not in table.column_names:
        return table
    column = table.column("first_seen")
    if pa.types.is_string(column.type):
        column = pc.cast(pc.replace_substring(column, "Z", ""), pa.timestamp("us"))
    ns = pc.cast(pc.cast(column, pa.timestamp("ns")), pa.int64())
    return table.append_column("first_seen_ns", ns)


def rule_yaml(path: str, line: int) -> str:
    """The text of the rule written at ``path``:``line`` (its list item), or ""."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    if not 0 < line <= len(lines):
        return ""
    start = line - 1
    while start > 0 and not lines[start].lstrip().startswith("- "):
        start -= 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines):
        text = lines[end]
        stripped = text.lstrip()
        level = len(text) - len(stripped)
        if stripped and (level < indent or (level == indent and stripped.startswith("- "))):
            break
        end += 1
    return "\n".join(lines[start:end]).rstrip() + "\n"


def _rule_rows(
    catalog: Catalog | None, counts: dict[str, dict[str, dict[str, int]]], mutes: dict[str, str]
) -> list[RuleRow]:
    from auditor.cli.rules import explain_text

    rows = []
    infos = rule_infos(catalog) if catalog is not None else {}
    ids = sorted(set(infos) | set(counts))
    for rule_id in ids:
        info = infos.get(rule_id)
        rule = catalog.rules.get(rule_id) if catalog is not None else None
        counted = counts.get(rule_id, {"state": {}, "triage": {}})
        yaml = rule_yaml(rule.location.file, rule.location.line) if rule is not None else ""
        try:
            sql = explain_text(catalog, rule) if catalog is not None and rule is not None else ""
        except Exception as exc:  # a rule the compiler refuses still lists
            sql = f"-- cannot compile: {exc}"
        rows.append(
            RuleRow(
                rule_id,
                info.title if info else rule_id,
                str(info.severity) if info else "",
                counted["state"],
                counted["triage"],
                mutes.get(rule_id),
                yaml,
                sql,
            )
        )
    return rows


# ---------------------------------------------------------------------- a store


class StoreSource:
    """A store file, or an in-memory store (``MemorySource``). ``catalog``: the rules the
    Rules screen explains (the ones the store's findings came from, as the CLI loaded them)."""

    persistent = True

    def __init__(self, path: Path, catalog: Catalog | None = None, clock: Clock = SYSTEM_CLOCK):
        self.path = path
        self.catalog = catalog
        self.clock = clock
        self.label = f"store {path}"
        with self._reading():  # refuse a missing or foreign file now, not on first paint
            pass

    def _now(self) -> datetime:
        return naive_utc(self.clock.now())

    @contextlib.contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            store = DuckStore(self.path, read_only=True)
        except AuditError as exc:
            raise SourceError(str(exc)) from None
        with store:
            yield store.con

    @contextlib.contextmanager
    def _writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            store = DuckStore(self.path)
        except AuditError as exc:
            raise SourceError(f"{exc}; triage there through audit serve's API (--server)") from None
        with store:
            yield store.con

    def findings(self) -> Loaded:
        with self._reading() as con:
            table = queries.findings_table(con, now=self._now())
        return Loaded(_with_seen_ns(table), table.num_rows)

    def detail(self, fingerprint: str) -> Detail:
        with self._reading() as con:
            found = queries.get_finding(con, fingerprint, now=self._now())
            if found is None:
                raise SourceError(f"no finding with fingerprint {fingerprint}")
            spans, truncated = (
                queries.trace_spans(con, found["trace_id"], events=True)
                if found["trace_id"]
                else ([], False)
            )
        return Detail(
            finding_from_json(found),
            tuple(found.get("notes", ())),
            tuple(spans),
            truncated,
            found.get("muted_until"),
        )

    def trace(self, trace_id: str) -> tuple[dict[str, Any], ...]:
        with self._reading() as con:
            spans, _ = queries.trace_spans(con, trace_id, events=True)
        return tuple(spans)

    def honest_trace(self, finding: Finding) -> tuple[str | None, str]:
        if not finding.trace_id:
            return None, "the finding has no trace to compare (a lost job never ran)"
        with self._reading() as con:
            # the job run's span; without one (a duplicate's subject is its key), the
            # trace's root span (the enqueue, or the first run)
            found = con.execute(
                'SELECT "SpanName", "ServiceName" FROM otel_traces WHERE "TraceId" = $t '
                "AND (\"SpanId\" = $s OR ($s = '' AND \"ParentSpanId\" = '')) "
                'ORDER BY "SpanId" = $s DESC, "Timestamp" LIMIT 1',
                {"t": finding.trace_id, "s": finding.span_id},
            ).fetchall()
            if not found:
                return None, "the job's spans are not in the store any more"
            name, service = found[0]
            trace = queries.typical_honest_trace(con, name, service, finding.trace_id)
        if trace is None:
            return None, f"no honest run of {name!r} ({service}) in this store"
        return trace, ""

    def triage(self, fingerprint: str, action: Action, note: str) -> None:
        with self._writing() as con:
            try:
                apply_triage(con, fingerprint, action, note=note, author=author(), now=self._now())
            except (ValueError, TriageConflict) as exc:
                raise SourceError(str(exc)) from None
            except NoSuchFinding:
                raise SourceError(f"no finding with fingerprint {fingerprint}") from None

    def mute(self, rule_id: str, seconds: float, note: str) -> None:
        with self._writing() as con:
            try:
                mute_rule(con, rule_id, seconds, author=author(), note=note, now=self._now())
            except TriageConflict as exc:
                raise SourceError(str(exc)) from None

    def rules(self) -> list[RuleRow]:
        now = self._now()
        with self._reading() as con:
            counts = queries.rule_counts(con, now=now)
            mutes = {k: queries.iso(v) or "" for k, v in active_mutes(con, now).items()}
        return _rule_rows(self.catalog, counts, mutes)

    def stats(self) -> Stats:
        with self._reading() as con:
            ingest = queries.ingest_stats(con, now=self._now())
            findings = con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
        minute = ingest["last_minute"]
        lines = (
            ("spans stored", f"{ingest['spans_stored']:,}"),
            ("findings kept", f"{findings:,}"),
            ("last commit", str(ingest["last_commit_at"] or "never")),
            ("ingest rate (last minute)", f"{minute['spans_per_second']} spans/s"),
            (
                "ingest rate (last 5 minutes)",
                f"{ingest['last_5_minutes']['spans_per_second']} spans/s",
            ),
            ("store size", f"{queries.store_bytes(str(self.path)):,} bytes"),
        )
        return Stats(
            lines,
            "evaluation lag and alert outbox depth: only a running audit serve knows them "
            "(open it with --server)",
        )

    def close(self) -> None:
        pass


class MemorySource(StoreSource):
    """Span files loaded into an in-memory store and evaluated once, for this session."""

    persistent = False

    def __init__(self, files: list[str], catalog: Catalog, clock: Clock = SYSTEM_CLOCK):
        self.catalog = catalog
        self.clock = clock
        self.path = Path(":memory:")
        self.label = f"{len(files)} span file(s), evaluated in memory"
        self._store = DuckStore(":memory:")
        try:
            summary = ingest_files(self._store, files)
        except AuditError as exc:
            self._store.close()
            raise SourceError(str(exc)) from None
        if not self._store.span_count():
            self._store.close()
            raise SourceError(f"no spans in {', '.join(files)}: nothing to judge")
        self.ingest = summary
        evaluation = evaluate(self._store.con, catalog)
        save_findings(
            self._store.con,
            evaluation.findings,
            "tui",
            self._now(),
            [r.id for r in catalog.enabled_rules()],
        )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._store.con.cursor()
        try:
            yield con
        finally:
            con.close()

    _writing = _reading

    def stats(self) -> Stats:
        base = super().stats()
        return Stats(
            base.lines,
            "span files are evaluated once in memory: no ingest rate, evaluation lag or "
            "outbox; triage lasts until the TUI closes",
        )

    def close(self) -> None:
        self._store.close()


# ---------------------------------------------------------------------- the API


class ApiSource:
    """A running ``audit serve``, through its API."""

    persistent = True

    def __init__(self, url: str, token: str | None = None, catalog: Catalog | None = None):
        try:
            self.client = ApiClient(url, token, timeout_s=30.0)
        except AuditError as exc:
            raise SourceError(str(exc)) from None
        self.catalog = catalog
        self.label = f"server {self.client.url}"

    @contextlib.contextmanager
    def _calling(self) -> Iterator[ApiClient]:
        try:
            yield self.client
        except AuditError as exc:
            raise SourceError(str(exc)) from None

    def findings(self) -> Loaded:
        fields = (
            "fingerprint", "rule_id", "kind", "severity", "state", "system", "job_id",
            "job_name", "queue", "effect_name", "effect_key", "trace_id", "service",
            "message", "triage", "done_at_ns", "first_seen", "last_seen",
        )  # fmt: skip
        columns: dict[str, list[Any]] = {name: [] for name in fields}
        count = 0
        with self._calling() as client:
            # JSON pages: one dict per finding is what the wire gives; columns at once.
            for finding in client.findings([]):
                for name in fields:
                    columns[name].append(finding.get(name))
                count += 1
                if count >= MAX_FINDINGS:
                    break
        types = {"done_at_ns": pa.int64()}
        table = pa.table({n: pa.array(v, types.get(n, pa.string())) for n, v in columns.items()})
        return Loaded(_with_seen_ns(_with_rank(table)), count)

    def detail(self, fingerprint: str) -> Detail:
        with self._calling() as client:
            found = client.finding(fingerprint)
            spans: list[dict[str, Any]] = []
            truncated = False
            if found.get("trace_id"):
                try:
                    trace = client.trace(found["trace_id"])
                    spans, truncated = trace["spans"], bool(trace.get("truncated"))
                except AuditError:
                    spans = []  # a trace the retention removed: the detail says so
        return Detail(
            finding_from_json(found),
            tuple(found.get("notes", ())),
            tuple(spans),
            truncated,
            found.get("muted_until"),
        )

    def trace(self, trace_id: str) -> tuple[dict[str, Any], ...]:
        with self._calling() as client:
            return tuple(client.trace(trace_id)["spans"])

    def honest_trace(self, finding: Finding) -> tuple[str | None, str]:
        return None, "the API has no query for honest runs; open the store with --db to compare"

    def triage(self, fingerprint: str, action: Action, note: str) -> None:
        with self._calling() as client:
            client.triage(fingerprint, str(action), note, author())

    def mute(self, rule_id: str, seconds: float, note: str) -> None:
        with self._calling() as client:
            client.mute(rule_id, f"{int(seconds)}s", note, author())

    def rules(self) -> list[RuleRow]:
        with self._calling() as client:
            answered = client.rules_json()
        counts = {r["id"]: {"state": r["findings"], "triage": r["triage"]} for r in answered}
        mutes = {r["id"]: r["muted_until"] for r in answered if r.get("muted_until")}
        rows = _rule_rows(self.catalog, counts, mutes)
        titles = {r["id"]: (r.get("title", r["id"]), r.get("severity", "")) for r in answered}
        return [
            RuleRow(
                r.rule_id,
                *titles.get(r.rule_id, (r.title, r.severity)),
                r.counts,
                r.triage,
                r.muted_until,
                r.yaml,
                r.sql,
            )
            for r in rows
        ]

    def stats(self) -> Stats:
        with self._calling() as client:
            stats = client.stats()
        ingest = stats.get("ingest", {})
        evaluation = stats.get("evaluation") or {}
        alerts = stats.get("alerts", {})
        lines = (
            ("spans stored", f"{stats.get('store', {}).get('spans', 0):,}"),
            (
                "ingest rate (last minute)",
                f"{ingest.get('last_minute', {}).get('spans_per_second', 0)} spans/s",
            ),
            ("pending spans (not yet committed)", str(ingest.get("pending_spans", 0))),
            ("evaluation lag", f"{evaluation.get('lag_s', 0)} s"),
            ("evaluation passes", str(evaluation.get("passes", 0))),
            ("alert outbox depth", str(alerts.get("outbox_depth", 0))),
            ("uptime", f"{stats.get('uptime_s', 0)} s"),
            ("ready", "yes" if stats.get("ready") else f"no: {stats.get('not_ready', '')}"),
        )
        return Stats(lines)

    def close(self) -> None:
        self.client.close()


def open_source(
    *,
    files: list[str] | None = None,
    db: Path | None = None,
    server: str | None = None,
    token: str | None = None,
    catalog: Catalog | None = None,
) -> Source:
    """The source the CLI's flags name (exactly one of files, db, server)."""
    if server:
        return ApiSource(server, token, catalog)
    if db is not None:
        return StoreSource(db, catalog)
    if files:
        if catalog is None:
            raise SourceError("span files need rules to be evaluated")
        return MemorySource(files, catalog)
    raise SourceError("give span files, --db PATH or --server URL")
