"""One scan without a terminal: span files or a store in, a ``Report`` out.

The core that ``audit scan`` and ``audit rules test`` call (and, next, the TUI and the
sidecar's API): load the inputs into a store (files into an in-memory one, or into ``--db``),
evaluate the catalog's rules, drop the findings a baseline accepted, keep the findings in a
store file, and describe the rules for the reports. No printing, no exit codes, no argument
parsing: the CLI modules do those. The time comes from an injected ``Clock``.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pyarrow.compute as pc

from auditor import __version__
from auditor.clock import SYSTEM_CLOCK, Clock, naive_utc
from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import Evaluation, evaluate
from auditor.errors import InputError, UsageError
from auditor.findings.baseline import Baseline, apply_baseline
from auditor.findings.model import RuleInfo, Severity
from auditor.findings.report import Report
from auditor.findings.shown import Shown, TraceSpan
from auditor.findings.table import FindingTable
from auditor.receivers.files import IngestSummary, ingest_files
from auditor.rules.model import Rule
from auditor.store.backend import Backend
from auditor.store.duck import DuckStore, SpanWriter
from auditor.store.findings import save_findings


@dataclass(frozen=True)
class ScanRequest:
    files: tuple[str, ...] = ()  # span files to load (into ``db`` when given)
    db: Path | None = None  # a store file to evaluate (and keep the findings in)
    # a ClickHouse backend (chDB or a server) to evaluate instead (files given are added to it)
    backend: Backend | None = None
    as_of_ns: int | None = None  # grace windows end here; None: the input is complete
    fail_on: Severity = Severity.LOW
    baseline: Baseline = field(default_factory=Baseline)  # findings accepted earlier
    fail_on_pending: bool = False
    list_checked: bool = False  # list every (rule, job) judged (JUnit)
    evidence: bool = True
    require_spans: bool = True  # no spans at all is an input error (a rule test may have none)


@dataclass(frozen=True)
class RuleWarning:
    rule_id: str
    text: str  # one sentence: what the rule judged, and the nearest name seen

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ScanResult:
    report: Report  # what the formats render (baseline applied)
    findings: FindingTable  # every finding, before the baseline (--write-baseline)
    ingest: IngestSummary | None  # what loading the files said (None: no files)
    warnings: tuple[RuleWarning, ...] = ()  # rules that judged no job (--strict fails them)

    @property
    def input_problem(self) -> bool:
        """Lines or spans of the input were rejected: a verdict on part of it would be a lie."""
        return self.ingest is not None and bool(self.ingest.bad_lines or self.ingest.spans_rejected)


def relative_source(path: str) -> str:
    """Rule sources relative to the working directory when inside it (SARIF, annotations)."""
    if not path:
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith("..") else relative


def rule_infos(catalog: Catalog) -> dict[str, RuleInfo]:
    """What the reports say of each enabled rule. A built-in pack rule has no source file in
    the user's repository, so its findings carry no file location."""
    infos: dict[str, RuleInfo] = {}
    for rule in catalog.enabled_rules():
        info = rule.info()
        builtin = catalog.is_builtin(rule)
        infos[rule.id] = RuleInfo(
            info.id, info.title, info.severity, info.description, info.runbook,
            "" if builtin else relative_source(info.source), 0 if builtin else info.line,
            info.labels,
        )  # fmt: skip
    return infos


Loader = Callable[[SpanWriter, list[str]], IngestSummary]


def _where(request: ScanRequest) -> str:
    if request.files:
        return ", ".join(request.files)
    return str(request.backend if request.backend is not None else request.db)


def pull_from_clickhouse(
    backend: Backend, store: DuckStore, files: list[str], load: Loader
) -> IngestSummary | None:
    """Add ``files`` to the ClickHouse ``backend``'s otel_traces, then copy its spans into
    ``store`` (an in-memory DuckDB) where the evaluation runs (docs/clickhouse.md says why)."""
    from auditor.store.clickhouse import ClickHouseStore  # the optional extra's drivers

    ingest = None
    with ClickHouseStore(backend, create=bool(files)) as spans:
        if files:
            ingest = load(spans, files)
        for chunk in spans.read_spans():
            store.insert(chunk)
    return ingest


@contextlib.contextmanager
def _evaluated(
    request: ScanRequest, catalog: Catalog, load: Loader
) -> Iterator[tuple[DuckStore, Evaluation, IngestSummary | None, int]]:
    """The store holding the request's inputs, open, with the catalog evaluated on it."""
    ingest = None
    with DuckStore(request.db if request.db is not None else ":memory:") as store:
        if request.db is not None:
            # The findings are durable once committed (the write-ahead log). Closing would
            # also checkpoint, and the first checkpoint of a store filled in many batches
            # compacts its spans (seconds, and memory in proportion to the store): that is
            # left to the next writer that checkpoints anyway (audit serve, audit ingest).
            # Set before the evaluation locks the configuration.
            store.con.execute("PRAGMA disable_checkpoint_on_shutdown")
        if request.backend is not None:
            ingest = pull_from_clickhouse(request.backend, store, list(request.files), load)
        elif request.files:
            ingest = load(store, list(request.files))
        spans = store.span_count()
        if spans == 0 and request.require_spans:
            # a gate that passes on nothing is worse than none
            raise InputError(f"no spans in {_where(request)}: nothing to judge")
        evaluation = evaluate(
            store.con,
            catalog,
            as_of_ns=request.as_of_ns,
            evidence=request.evidence,
            list_checked=request.list_checked,
        )
        yield store, evaluation, ingest, spans


def run_scan(
    request: ScanRequest,
    catalog: Catalog,
    *,
    clock: Clock = SYSTEM_CLOCK,
    load: Loader = ingest_files,
) -> ScanResult:
    """Evaluate ``catalog`` over the request's inputs. ``load`` puts the files into the store
    (the CLI's shows a progress bar)."""
    with _evaluated(request, catalog, load) as (store, evaluation, ingest, spans):
        if request.db is not None:
            save_findings(
                store.con,
                evaluation.findings,
                "scan",
                naive_utc(clock.now()),
                [r.id for r in catalog.enabled_rules()],
            )
    shown, suppressed = apply_baseline(evaluation.findings, request.baseline)
    report = Report(
        findings=shown,
        rules=rule_infos(catalog),
        checked=evaluation.checked,
        jobs_checked=evaluation.jobs_checked,
        inputs=request.files or (_where(request),),
        spans=spans,
        fail_on=request.fail_on,
        baselined=suppressed,
        tool_version=__version__,
        fail_on_pending=request.fail_on_pending,
        job_runs=evaluation.job_runs,
        judged=evaluation.judged,
    )
    return ScanResult(report, evaluation.findings, ingest, idle_rules(catalog, evaluation))


def idle_rules(catalog: Catalog, evaluation: Evaluation) -> tuple[RuleWarning, ...]:
    """The user's rules that judged no job in ``evaluation``, each with why."""
    return tuple(
        RuleWarning(rule.id, idle_rule_warning(rule, evaluation.job_runs, evaluation.job_names))
        for rule in catalog.enabled_rules()
        if not catalog.is_builtin(rule) and evaluation.judged.get(rule.id, 0) == 0
    )


_TRACE_SQL = """
SELECT "SpanId", "ParentSpanId", "SpanName", "SpanKind", "ServiceName", epoch_ns("Timestamp"),
       epoch_ns("Timestamp") + "Duration", "StatusCode", "StatusMessage"
FROM otel_traces WHERE "TraceId" = ? ORDER BY "Timestamp", "SpanId" LIMIT ?
"""
MAX_TRACE_SPANS = 2000


def show_finding(
    request: ScanRequest, fingerprint: str, catalog: Catalog, *, load: Loader = ingest_files
) -> Shown:
    """The finding whose fingerprint is (or starts with) ``fingerprint``, with its trace.
    A fingerprint that matches no finding, or several, is a usage error."""
    if not fingerprint:
        raise UsageError("give the fingerprint of a finding (see the fingerprint column)")
    with _evaluated(request, catalog, load) as (store, evaluation, _, _):
        column = evaluation.findings.table.column("fingerprint")
        matches = pc.starts_with(column, fingerprint)
        found = evaluation.findings.select(matches)
        if len(found) != 1:
            what = "no finding" if not len(found) else f"{len(found)} findings"
            raise UsageError(f"{what} with fingerprint {fingerprint!r} in {_where(request)}")
        finding = found[0]
        rows = (
            store.con.execute(_TRACE_SQL, [finding.trace_id, MAX_TRACE_SPANS]).fetchall()
            if finding.trace_id
            else []
        )
    rule = rule_infos(catalog).get(finding.rule_id) or RuleInfo(
        finding.rule_id, finding.rule_id, finding.severity
    )
    return Shown(finding, rule, tuple(TraceSpan(*row) for row in rows))


def idle_rule_warning(rule: Rule, runs: dict[str, int], names: dict[str, list[str]]) -> str:
    """Why ``rule`` judged no job, in words, with the nearest system or job name seen."""
    what = "enqueued job" if rule.expect is None else "job run marked done"
    text = f"rule {rule.id!r} judged no job: no {what} matched its selector"
    jobs = rule.jobs
    if jobs.system and not any(fnmatchcase(s, jobs.system) for s in runs):
        seen = ", ".join(sorted(runs)) or "none"
        text += f"; no job runs of system {jobs.system!r} (systems seen: {seen})"
        close = difflib.get_close_matches(jobs.system, list(runs), n=1)
        return text + (f"; did you mean {close[0]!r}?" if close else "")
    if jobs.name:
        pool = sorted(
            {
                n
                for s, ns in names.items()
                if not jobs.system or fnmatchcase(s, jobs.system)
                for n in ns
            }
        )
        if not any(fnmatchcase(n, jobs.name) for n in pool):
            text += f"; no job named {jobs.name!r}"
            close = difflib.get_close_matches(jobs.name, pool, n=1)
            return text + (f"; did you mean {close[0]!r}?" if close else "")
    return text
