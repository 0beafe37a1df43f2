"""``python -m bench``'s registry and table: every registered script exists and defines
``rows(quick)``, and the table shows each figure with its target, baseline and ratio."""

from __future__ import annotations

import ast
from pathlib import Path

from bench.__main__ import table
from bench.registry import BENCHES
from bench.rows import Row

REPO = Path(__file__).resolve().parents[3]


def test_every_registered_bench_defines_rows_of_quick() -> None:
    for name, script in BENCHES.items():
        tree = ast.parse((REPO / script).read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "rows" in functions, name
        assert [a.arg for a in functions["rows"].args.args] == ["quick"], name


def test_the_table_shows_value_target_baseline_ratio_and_failures() -> None:
    rows = [
        Row("ingest: spans/s", 65_792, "spans/s", ">= 60,000", 120_000, "decode only", True),
        Row("fuzz: campaign", 12.5, "s", "no unexpected exception", met=False),
    ]
    text = table([("ingest", rows, ""), ("scan", [], "exit 1: boom")])
    lines = text.splitlines()
    assert lines[2] == (
        "| ingest | ingest: spans/s | 65,792 spans/s | >= 60,000 "
        "| 120,000 spans/s (decode only) | 0.55× | yes |"
    )
    assert (
        lines[3]
        == "| ingest | fuzz: campaign | 12.5 s | no unexpected exception | — | — | **no** |"
    )
    assert lines[4] == "| scan | FAILED: exit 1: boom | | | | | no |"
