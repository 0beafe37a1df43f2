"""``audit scan [FILE…] [--db PATH]``: evaluate the rules once and gate CI on the result.

This module parses the arguments and prints; ``engine.scan.run_scan`` does the scan.

Files are loaded into a temporary in-memory store (with ``--db`` they are added to that
store instead, and the findings are kept there for ``audit tui --db``). The input is taken
as complete, so nothing is pending unless ``--as-of`` sets the evaluation time.

With ``--server URL`` the store of a running ``audit serve`` is scanned, by its rules, through
its API (``api.client.remote_scan``): the same report, formats and exit codes as ``--db`` on
that store. A store's findings carry the triage kept in it (``store.triage``).

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage / config / rule error,
3 unreadable input (a file that cannot be read, or lines / spans in it that were rejected:
a verdict on part of the input would be a lie; a server that cannot be reached).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from auditor.cli.ingest import ingest_with_progress, print_summary
from auditor.clock import SYSTEM_CLOCK, naive_utc
from auditor.engine.catalog import load_catalog
from auditor.engine.scan import ScanRequest, ScanResult, run_scan
from auditor.errors import ExitCode, InputError, UsageError
from auditor.findings.baseline import Baseline, read_baseline, write_baseline
from auditor.findings.model import Severity
from auditor.findings.report import Report
from auditor.reports import FORMATS, check_format, write_report
from auditor.store.backend import Backend, parse_backend
from auditor.store.triage import read_triage


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


def parse_as_of(text: str) -> int:
    """``--as-of``: ISO 8601 (UTC when no offset is given), ``now``, or epoch seconds."""
    if text == "now":
        return int(datetime.now(UTC).timestamp() * 1e9)
    try:
        return int(float(text) * 1e9)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of {text!r} is not a time; use ISO 8601 like 2026-11-28T10:00:00Z, "
            "epoch seconds, or now"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1e9)


def choose_store(db: Path | None, backend: str | None) -> tuple[Path | None, Backend | None]:
    """``--db PATH`` or ``--backend URL`` (one of them): a DuckDB store file, or a ClickHouse
    backend (``duckdb:///path`` is the same as ``--db path``)."""
    if backend is None:
        return db, None
    if db is not None:
        raise UsageError("give --db PATH or --backend URL, not both")
    chosen = parse_backend(backend)
    if not chosen.is_clickhouse:
        return Path(chosen.path), None
    return None, chosen


def check_inputs(
    files: list[str] | None, db: Path | None, backend: Backend | None = None
) -> list[str]:
    """The span files of a command that reads files or a store (scan, show); none at all, or
    a store that does not exist, is an error before any work."""
    if backend is not None:
        return files or []
    if not files and db is None:
        raise UsageError("give span files to read, or --db PATH (or --backend URL) of a store")
    if db is not None and db.is_dir():
        raise UsageError(f"--db {db} is a directory; give the store's file")
    if db is not None and not files and not db.exists():
        raise InputError(f"no store at {db}")
    return files or []


def check_writable(flag: str, path: Path) -> None:
    """A path a command will write, checked before any work: every problem is a usage error."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: no such directory {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{flag} {path}: not writable")


def read_text(flag: str, path: Path) -> str:
    """A file a flag names, read whole; a path that cannot be read is a usage error."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{flag} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path}: cannot read it: {exc}") from None


def _severity(text: str) -> Severity:
    try:
        return Severity(text.lower())
    except ValueError:
        raise UsageError(
            f"--fail-on {text!r} is not a severity; use one of {', '.join(s.value for s in Severity)}"
        ) from None


# Options of every command that writes a report (scan, findings).
FORMAT = typer.Option(
    None,
    "--format",
    "-f",
    help=f"Report format: {', '.join(FORMATS)} (default: table on a terminal, json otherwise).",
)
OUTPUT = typer.Option(None, "--output", "-o", help="Write the report here instead of stdout.")
WIDE = typer.Option(False, "--wide", help="Full job ids in the table.")
COLOR = typer.Option(
    None, "--color/--no-color", help="Color the table (default: on a terminal, unless NO_COLOR)."
)
BACKEND = typer.Option(
    None,
    "--backend",
    metavar="URL",
    help="The store as a URL instead of --db: duckdb:///path/auditor.duckdb, "
    "chdb:///path/folder (ClickHouse embedded) or clickhouse://[user[:password]@]host:8123/db "
    "(the otel_traces table a Collector's ClickHouse exporter fills; needs auditor[clickhouse]).",
)
TOKEN = typer.Option(
    None,
    "--token",
    envvar="AUDIT_TOKEN",
    metavar="TOKEN",
    help="With --server: the server's bearer token.  [env var: AUDIT_TOKEN]",
    show_envvar=False,
)


def check_remote(files: list[str] | None, db: Path | None, rules: list[Path], packs: bool) -> None:
    """``--server`` scans what the server has, by its rules: nothing local may be given."""
    given = [
        what
        for what, present in (
            ("span files", bool(files)),
            ("--db or --backend", db is not None),
            ("--rules", bool(rules)),
            ("--no-packs", not packs),
        )
        if present
    ]
    if given:
        raise UsageError(
            f"--server scans the server's store by the server's rules; drop {', '.join(given)}"
        )


def _scan(
    files: list[str],
    db: Path | None,
    rules: list[Path],
    packs: bool,
    as_of_ns: int | None,
    threshold: Severity,
    accepted: Baseline,
    fail_on_pending: bool,
    fmt: str,
    backend: Backend | None = None,
) -> ScanResult:
    """The scan of span files or a store, here."""
    catalog = load_catalog(rules, packs=packs)  # rule errors surface before any input is read
    request = ScanRequest(
        files=tuple(files),
        db=db,
        backend=backend,
        as_of_ns=as_of_ns,
        fail_on=threshold,
        baseline=accepted,
        fail_on_pending=fail_on_pending,
        list_checked=fmt == "junit",
    )
    progress = sys.stderr.isatty()
    result = run_scan(
        request,
        catalog,
        load=lambda store, paths: ingest_with_progress(store, paths, show_progress=progress),
    )
    if db is None:
        return result
    # what people decided about these findings (audit serve's API) is kept in the store
    findings = read_triage(db, result.report.table, naive_utc(SYSTEM_CLOCK.now()))
    return dataclasses.replace(result, report=dataclasses.replace(result.report, findings=findings))


def emit(fmt: str, report: Report, output: Path | None, color: bool | None, wide: bool) -> None:
    """Write ``report`` in ``fmt`` to ``output`` or stdout (a terminal gets its width, and
    color unless NO_COLOR or ``--no-color``)."""
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() and output is None else None
    use_color = (
        color
        if color is not None
        else (sys.stdout.isatty() and output is None and "NO_COLOR" not in os.environ)
    )
    if output is not None:
        with output.open("w", encoding="utf-8") as out:
            write_report(fmt, report, out.write, color=bool(use_color), wide=wide)
    else:
        write_report(fmt, report, sys.stdout.write, color=bool(use_color), width=width, wide=wide)
        sys.stdout.flush()


def scan_command(
    files: list[str] = typer.Argument(
        None, help="Span files (OTLP JSON lines, OTLP/JSON, protobuf, .gz; - for stdin)."
    ),
    db: Path | None = typer.Option(
        None, "--db", help="Evaluate this store (files given are added to it)."
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", help="Rule files or folders, added to the built-in profiles and packs."
    ),
    fmt: str | None = FORMAT,
    output: Path | None = OUTPUT,
    fail_on: str = typer.Option(
        "low",
        "--fail-on",
        help="Exit 1 when a finding is at least this severe (info, low, medium, high, critical).",
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Accepted findings (from --write-baseline): not reported."
    ),
    write_baseline_to: Path | None = typer.Option(
        None,
        "--write-baseline",
        help="Write today's findings here as a baseline (matched by rule, kind, system, job "
        "name, effect name and key, so it holds across runs with new job ids).",
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Judge grace windows (within, complete_within) as of this time: ISO 8601, epoch "
        "seconds or now. Default: the input is complete, every window closed (nothing "
        "pending); a store still being filled wants --as-of now.",
    ),
    fail_on_pending: bool = typer.Option(
        False,
        "--fail-on-pending",
        help="Pending findings (inside their grace window) fail too; by default they are "
        "shown, not failing.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 2 when one of your rules judged no job at all."
    ),
    wide: bool = WIDE,
    packs: bool = typer.Option(
        True, "--packs/--no-packs", help="Also run the built-in rule packs."
    ),
    color: bool | None = COLOR,
    server: str | None = typer.Option(
        None,
        "--server",
        metavar="URL",
        help="Scan the store of a running audit serve, by its rules, through its API "
        "(http://host:4318) instead of files or --db.",
    ),
    token: str | None = TOKEN,
    backend_url: str | None = BACKEND,
) -> int:
    """Evaluate rules over span files or a store; exit 1 when jobs lied."""
    db, backend = choose_store(db, backend_url)
    if server is not None:
        check_remote(files, db if backend is None else Path(str(backend)), rules, packs)
    else:
        files = check_inputs(files, db, backend)
    fmt = fmt or ("table" if sys.stdout.isatty() and output is None else "json")
    check_format(fmt)
    threshold = _severity(fail_on)
    as_of_ns = parse_as_of(as_of) if as_of else None
    for flag, path in (("--output", output), ("--write-baseline", write_baseline_to)):
        if path is not None:
            check_writable(flag, path)
    accepted = Baseline()
    if baseline is not None:
        accepted = read_baseline(read_text("--baseline", baseline), str(baseline))
    if server is not None:
        from auditor.api.client import remote_scan  # httpx loads only for --server

        result = remote_scan(
            server,
            token,
            as_of_ns=as_of_ns,
            fail_on=threshold,
            fail_on_pending=fail_on_pending,
            baseline=accepted,
            list_checked=fmt == "junit",
        )
    else:
        result = _scan(
            files, db, rules, packs, as_of_ns, threshold, accepted, fail_on_pending, fmt, backend
        )
    if result.input_problem and result.ingest is not None:
        where = backend if backend is not None else db
        print_summary(result.ingest, str(where) if where is not None else "the in-memory store")
    for warning in result.warnings:
        print(f"audit: warning: {warning}", file=sys.stderr)
    report = result.report
    emit(fmt, report, output, color, wide)
    if write_baseline_to is not None:
        write_baseline_to.write_text(write_baseline(result.findings), encoding="utf-8")
    if result.input_problem:
        return int(ExitCode.INPUT)
    if strict and result.warnings:
        print("audit: error: --strict: a rule judged no job", file=sys.stderr)
        return int(ExitCode.USAGE)
    return int(ExitCode.FINDINGS) if report.failing_count() else int(ExitCode.OK)
