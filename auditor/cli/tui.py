"""``audit tui`` and ``audit demo``: the triage TUI, and a tour that builds a store to open in it.

``audit tui [FILE…] [--db PATH] [--server URL] [--token T]``: span files are evaluated in
memory first; ``--db`` opens a store (read-only, written only by triage actions); ``--server``
talks to a running ``audit serve``. With none of them, the local serve on
``http://127.0.0.1:4318`` if it answers. ``audit demo [--db PATH] [--no-tui]``: replays the
packaged real Celery, RQ and BullMQ captures as a day of jobs into a store (a temporary one by
default), evaluates the demo rules, and opens the TUI on it; ``--no-tui`` prints the findings
table and exits 1, as a scan with findings does.

Textual and the ``tui`` package are imported inside the commands only, so ``audit scan`` never
loads them.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
import typer

from auditor.cli.scan import TOKEN, emit
from auditor.clock import SYSTEM_CLOCK, Clock
from auditor.engine.catalog import load_catalog
from auditor.engine.scan import ScanRequest, ScanResult, run_scan
from auditor.errors import ExitCode, InputError, UsageError

LOCAL_SERVE = "http://127.0.0.1:4318"
THEMES = {"dark": "textual-dark", "light": "textual-light"}


def register(app: typer.Typer) -> None:
    app.command("tui")(tui_command)
    app.command("demo")(demo_command)


def _local_serve() -> str | None:
    try:
        answer = httpx.get(f"{LOCAL_SERVE}/readyz", timeout=0.5)
    except httpx.HTTPError:
        return None
    return LOCAL_SERVE if answer.status_code in (200, 503) else None


def _theme(name: str) -> str:
    if name not in THEMES:
        raise UsageError(f"--theme {name!r}: use dark or light")
    return THEMES[name]


def run_tui(
    *,
    files: list[str] | None = None,
    db: Path | None = None,
    server: str | None = None,
    token: str | None = None,
    rules: list[Path] | None = None,
    packs: bool = True,
    theme: str = "dark",
) -> None:
    from tui.app import make_app
    from tui.source import SourceError, open_source

    catalog = load_catalog(rules or [], packs=packs)
    try:
        source = open_source(files=files, db=db, server=server, token=token, catalog=catalog)
    except SourceError as exc:
        raise InputError(str(exc)) from None
    make_app(source, theme=_theme(theme)).run()


def tui_command(
    files: list[str] = typer.Argument(
        None, help="Span files to evaluate in memory (OTLP JSON lines, protobuf, .gz)."
    ),
    db: Path | None = typer.Option(None, "--db", help="Open this store.", metavar="PATH"),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Talk to a running audit serve (its OTLP/HTTP address).",
        metavar="URL",
    ),
    token: str | None = TOKEN,
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        help="Rule files or folders (to evaluate files; the Rules screen).",
        metavar="PATH",
    ),
    packs: bool = typer.Option(True, "--packs/--no-packs", help="Also use the built-in packs."),
    theme: str = typer.Option("dark", "--theme", help="dark or light (ctrl+t switches)."),
) -> int:
    """Triage findings: filter, read a finding's trace, acknowledge, mute, export."""
    given = [n for n, on in (("span files", bool(files)), ("--db", db), ("--server", server)) if on]
    if len(given) > 1:
        raise UsageError(f"give one of span files, --db or --server, not {' and '.join(given)}")
    if not given:
        server = _local_serve()
        if server is None:
            raise UsageError(
                f"give span files, --db PATH or --server URL (no audit serve answered at {LOCAL_SERVE})"
            )
    _theme(theme)
    run_tui(files=files, db=db, server=server, token=token, rules=rules, packs=packs, theme=theme)
    return 0


def build_demo(db: Path, copies: int = 8, clock: Clock = SYSTEM_CLOCK) -> ScanResult:
    """Write the demo's spans into the store ``db`` and evaluate the demo rules there (the
    findings are kept in it)."""
    from auditor.demo import demo_lines, rules_path

    catalog = load_catalog([rules_path()])
    with tempfile.TemporaryDirectory(prefix="audit-demo-") as folder:
        spans = Path(folder) / "demo-traces.jsonl"
        with spans.open("w", encoding="utf-8") as out:
            for line in demo_lines(clock.now_ns(), copies):
                out.write(line + "\n")
        result = run_scan(ScanRequest(files=(str(spans),), db=db), catalog, clock=clock)
    return result


def demo_command(
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Build the demo store here (default: a new temporary file).",
        metavar="PATH",
    ),
    no_tui: bool = typer.Option(
        False, "--no-tui", help="Print the findings table and exit 1 instead of opening the TUI."
    ),
    copies: int = typer.Option(
        8, "--copies", help="How many times each capture is replayed.", min=1, max=500
    ),
    theme: str = typer.Option("dark", "--theme", help="dark or light."),
) -> int:
    """A tour: real-shaped Celery, RQ and BullMQ jobs, some lying; their findings in the TUI."""
    _theme(theme)
    if db is None:
        db = Path(tempfile.mkdtemp(prefix="audit-demo-")) / "demo.duckdb"
    elif db.exists():
        raise UsageError(f"--db {db} exists; give a new path (the demo builds a fresh store)")
    result = build_demo(db, copies)
    count = len(result.findings)
    print(f"audit demo: {count} findings in {db}", file=sys.stderr)
    if no_tui:
        emit("table", result.report, None, None, False)
        return int(ExitCode.FINDINGS) if count else 0
    from auditor.demo import rules_path

    run_tui(db=db, rules=[rules_path()], theme=theme)
    print(
        f"audit demo: the store stays at {db}; reopen it with: audit tui --db {db}", file=sys.stderr
    )
    return 0
