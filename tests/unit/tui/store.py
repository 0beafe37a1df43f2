"""The demo store the TUI tests open: built once per test module by ``audit demo``'s own
builder at a pinned time, so ages, first-seen times and commit times do not move between runs
(snapshots compare pixels of text)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from auditor.cli.tui import build_demo
from auditor.clock import FixedClock, from_ns

NOW_NS = 1_796_000_000 * 10**9  # 2026-11-29, a little after the captures were recorded
COPIES = 3


def build(path: Path, copies: int = COPIES) -> Path:
    build_demo(path, copies, FixedClock(NOW_NS))
    con = duckdb.connect(str(path))
    try:  # the store's own commit times are the wall clock's; pin them too
        con.execute(
            "UPDATE auditor_batches SET committed_at = ?",
            [from_ns(NOW_NS - 60 * 10**9).replace(tzinfo=None)],
        )
        con.execute(
            'UPDATE otel_traces SET "IngestedAt" = ?',
            [from_ns(NOW_NS - 60 * 10**9).replace(tzinfo=None)],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


def copy_of(template: Path, folder: Path) -> Path:
    """A fresh copy of a built store (tests that triage must not share one)."""
    target = folder / "demo.duckdb"
    shutil.copyfile(template, target)
    return target
