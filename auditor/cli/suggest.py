"""``audit rules suggest [FILE…] [--db PATH]``: propose rules from what jobs usually did.

Same inputs as ``audit scan`` (span files, a store, ``--rules`` for their system profiles).
Writes a rule file to stdout, or to ``--output``, and one summary line to stderr. This module
parses and prints; ``engine.suggest`` measures, ``rules.suggest`` chooses and writes YAML.

Exit codes: 0 a file was written (even with no rule in it), 2 usage, 3 unreadable input or
no spans at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from auditor.cli.ingest import ingest_with_progress, print_summary
from auditor.cli.scan import check_inputs, check_writable
from auditor.engine.catalog import load_catalog
from auditor.engine.suggest import SuggestRequest, suggest
from auditor.errors import ExitCode, UsageError
from auditor.rules.suggest import render

# 20 runs that all confirmed an effect put the lower end of its 95% (Wilson) interval at
# 0.84, above the default ratio; with 5 it is 0.57: a rule from 5 runs is a coin toss.
DEFAULT_MIN_RUNS = 20
DEFAULT_MIN_RATIO = 0.8


def suggest_command(
    files: list[str] = typer.Argument(
        None, help="Span files, as for audit scan (OTLP JSON lines, protobuf, .gz; - for stdin)."
    ),
    db: Path | None = typer.Option(
        None, "--db", metavar="PATH", help="Learn from this store (files given are added to it)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the rule file here, not to stdout."
    ),
    min_runs: int = typer.Option(
        DEFAULT_MIN_RUNS,
        "--min-runs",
        metavar="N",
        help="Propose rules only for jobs with at least N runs marked done.",
    ),
    min_ratio: float = typer.Option(
        DEFAULT_MIN_RATIO,
        "--min-ratio",
        metavar="R",
        help="Propose an effect that at least this share of a job's runs marked done had "
        "(0 < R <= 1).",
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        metavar="PATH",
        help="Rule files or folders whose system profiles (systems:) to use, as for audit scan.",
    ),
) -> int:
    """Propose rules from traffic: the effects each job's runs usually confirmed."""
    files = check_inputs(files, db)
    if min_runs < 1:
        raise UsageError(f"--min-runs {min_runs}: give at least 1")
    if not 0 < min_ratio <= 1:
        raise UsageError(f"--min-ratio {min_ratio:g}: give a share above 0 and at most 1")
    if output is not None:
        check_writable("--output", output)
    catalog = load_catalog(rules, packs=False)
    progress = sys.stderr.isatty()
    result = suggest(
        SuggestRequest(tuple(files), db, min_runs=min_runs, min_ratio=min_ratio),
        catalog.profiles,
        load=lambda store, paths: ingest_with_progress(store, paths, show_progress=progress),
    )
    if result.input_problem and result.ingest is not None:
        print_summary(result.ingest, str(db) if db is not None else "the in-memory store")
        return int(ExitCode.INPUT)
    text = render(result.proposal)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    print(result.proposal.summary(), file=sys.stderr)
    return 0
