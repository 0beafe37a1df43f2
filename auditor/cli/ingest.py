"""``audit ingest FILE…``: load OTLP JSON lines / protobuf files (or ``-``) into the store."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from auditor.config import DEFAULTS, source_of
from auditor.errors import ExitCode
from auditor.receivers.files import IngestSummary, ingest_files
from auditor.store.backend import parse_backend
from auditor.store.duck import DuckStore, SpanWriter


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)


# The store setting of `audit serve`, with its default and variable (no audit.yaml here).
STORE = typer.Option(
    DEFAULTS.store, "--db", envvar=source_of("store").env, help=source_of("store").help
)


def ingest_command(
    files: list[str] = typer.Argument(
        None,
        metavar="FILE",
        help="OTLP JSON-lines, OTLP/JSON or protobuf files, optionally .gz; - reads stdin.",
    ),
    db: Path = STORE,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    backend_url: str | None = typer.Option(
        None,
        "--backend",
        metavar="URL",
        help="The store as a URL instead of --db: duckdb:///path, chdb:///path/folder or "
        "clickhouse://[user[:password]@]host:8123/db (written with the OpenTelemetry "
        "Collector ClickHouse exporter's otel_traces table; needs auditor[clickhouse]).",
    ),
) -> int:
    """Load span files into the store. A span already stored is not stored again."""
    files = files or []
    show = not quiet and sys.stderr.isatty()
    backend = parse_backend(backend_url) if backend_url is not None else None
    if backend is not None and backend.is_clickhouse:
        from auditor.store.clickhouse import ClickHouseStore  # the optional extra's drivers

        with ClickHouseStore(backend) as spans:
            summary = ingest_with_progress(spans, files, show_progress=show)
        where: object = backend
    else:
        path = Path(backend.path) if backend is not None else db
        with DuckStore(path) as store:
            summary = ingest_with_progress(store, files, show_progress=show)
        where = path
    if not quiet:
        print_summary(summary, str(where))
    return int(ExitCode.INPUT) if summary.bad_lines or summary.spans_rejected else 0


def ingest_with_progress(store: SpanWriter, files: list[str], show_progress: bool) -> IngestSummary:
    """Load ``files`` into ``store``, with a progress bar on stderr when asked."""
    if not show_progress:
        return ingest_files(store, files)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    total = sum(os.path.getsize(f) for f in files if f != "-" and os.path.isfile(f)) or None
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=_stderr_console(),
    ) as progress:
        task = progress.add_task("ingesting", total=total)
        return ingest_files(store, files, lambda n: progress.advance(task, n))


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def print_summary(summary: IngestSummary, db: Path | str) -> None:
    out = sys.stderr
    print(
        f"{summary.spans_stored} spans stored in {db} from {summary.requests} requests in "
        f"{summary.files} file(s); {summary.duplicates} duplicates skipped; "
        f"{summary.spans_rejected} spans and {summary.bad_lines} lines rejected",
        file=out,
    )
    for problem in summary.problems:
        print(f"  {problem}", file=out)
    hidden = summary.bad_lines + summary.spans_rejected - len(summary.problems)
    if hidden > 0:
        print(f"  … and {hidden} more", file=out)
