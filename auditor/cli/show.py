"""``audit show FINGERPRINT [FILE…] [--db PATH]``: one finding as a person reads it.

Same inputs as ``audit scan`` (span files, a store, ``--rules``); the finding is found by its
fingerprint or a unique prefix of it. This module parses and prints; ``engine.scan`` finds
the finding and its trace, ``reports.show`` draws them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from auditor.cli.scan import check_inputs, parse_as_of
from auditor.engine.catalog import load_catalog
from auditor.engine.scan import ScanRequest, show_finding
from auditor.reports import show


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)


def show_command(
    fingerprint: str = typer.Argument(..., help="The finding's fingerprint, or a unique prefix."),
    files: list[str] = typer.Argument(
        None, help="Span files, as for audit scan (OTLP JSON lines, protobuf, .gz)."
    ),
    db: Path | None = typer.Option(None, "--db", help="Look in this store.", metavar="PATH"),
    rules: list[Path] = typer.Option(
        [], "--rules", help="Rule files or folders, as for audit scan.", metavar="PATH"
    ),
    packs: bool = typer.Option(True, "--packs/--no-packs", help="Also run the built-in packs."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Judge grace windows as of this time, as for audit scan."
    ),
) -> int:
    """Show one finding: what was expected, what is missing, its job and trace."""
    files = check_inputs(files, db)
    catalog = load_catalog(rules, packs=packs)
    request = ScanRequest(files=tuple(files), db=db, as_of_ns=parse_as_of(as_of) if as_of else None)
    sys.stdout.write(show.render(show_finding(request, fingerprint, catalog)))
    return 0
