"""First paint, cursor moves and memory of ``audit tui`` with N findings, against a baseline
measured in the same run: Textual's built-in DataTable filled with the same columns.

    .venv/bin/python bench/tui/run.py [--findings 100000] [--baseline-rows 10000]

The app is the real one (``tui.app.make_app``) at 120x36, headless. Its source is a
``TableSource`` that hands over a prebuilt Arrow table of N findings with the columns a store
sends (``auditor.api.queries.findings_table``), so the numbers are the TUI's own: the store's
read is not part of them. First paint: from starting the app to the findings table mounted with
its caption saying N findings and one screen refresh done. Cursor move: mean wall time of a
``down`` key press, as the pilot delivers it and waits for the app to go idle. Memory: growth of
the process's resident set from before the table is built to after first paint.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import pyarrow as pa
from textual.app import App, ComposeResult
from textual.widgets import DataTable as BuiltinTable
from textual.widgets import Static

from tui.app import make_app
from tui.screens.findings import FindingsScreen
from tui.source import Detail, Loaded, RuleRow, Stats
from tui.view import SHOWN

NOW_NS = 1_796_000_000 * 10**9


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def findings_table(n: int) -> pa.Table:
    sev = ["critical", "high", "medium", "low"]
    kinds = ["unconfirmed_done", "premature_done", "duplicate_effect", "failed_effect", "lost_job"]
    systems = ["celery", "rq", "bullmq"]
    i = pa.array(range(n), pa.int64())
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    return pa.table(
        {
            "fingerprint": [f"{k:020x}" for k in range(n)],
            "rule_id": [f"rule-{k % 37}" for k in range(n)],
            "kind": [kinds[k % 5] for k in range(n)],
            "severity": [sev[k % 4] for k in range(n)],
            "severity_rank": pa.array([rank[sev[k % 4]] for k in range(n)], pa.int32()),
            "state": ["open"] * n,
            "system": [systems[k % 3] for k in range(n)],
            "job_id": [f"job-{k}" for k in range(n)],
            "job_name": [f"shop.send_{k % 11}" for k in range(n)],
            "effect_key": [f"ORD-{k}" for k in range(n)],
            "service": [f"worker-{k % 5}" for k in range(n)],
            "message": [f"job {k} said done without its email" for k in range(n)],
            "triage": ["new"] * n,
            "trace_id": [f"{k:032x}" for k in range(n)],
            "done_at_ns": pa.compute.subtract(pa.scalar(NOW_NS), pa.compute.multiply(i, 10**9)),
        }
    )


class TableSource:
    """A source that already holds its findings (the benchmark's fixture, no I/O)."""

    label = "benchmark"
    persistent = False

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def findings(self) -> Loaded:
        return Loaded(self.table, self.table.num_rows)

    def detail(self, fingerprint: str) -> Detail:
        raise NotImplementedError

    def honest_trace(self, finding: Any) -> tuple[str | None, str]:
        return None, ""

    def trace(self, trace_id: str) -> tuple[dict[str, Any], ...]:
        return ()

    def triage(self, fingerprint: str, action: Any, note: str) -> None:
        pass

    def mute(self, rule_id: str, seconds: float, note: str) -> None:
        pass

    def rules(self) -> list[RuleRow]:
        return []

    def stats(self) -> Stats:
        return Stats(())

    def close(self) -> None:
        pass


async def measure_app(n: int, moves: int) -> dict[str, float]:
    before = rss_mb()
    start = time.perf_counter()
    table = findings_table(n)
    built = time.perf_counter() - start
    app = make_app(TableSource(table), now_ns=NOW_NS)
    start = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        want = f"{n:,} findings"
        while True:
            screen = app.screen
            if (
                isinstance(screen, FindingsScreen)
                and screen.view is not None
                and str(screen.query_one("#caption", Static).render()).startswith(want)
            ):
                break
            await asyncio.sleep(0.005)
        await pilot.pause()
        paint = time.perf_counter() - start
        after = rss_mb()
        start = time.perf_counter()
        for _ in range(moves):
            await pilot.press("down")
        move = (time.perf_counter() - start) / moves
    return {
        "build_s": built,
        "first_paint_s": paint,
        "move_ms": move * 1000,
        "rss_mb": after - before,
    }


class Builtin(App[None]):
    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield BuiltinTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(BuiltinTable)
        table.add_columns(*(h for h, _ in SHOWN))
        table.add_rows(self.rows)


async def measure_builtin(n: int, moves: int) -> dict[str, float]:
    before = rss_mb()
    table = findings_table(n)
    rows = [
        (
            r["severity"],
            r["rule_id"],
            r["kind"],
            r["system"],
            r["job_name"],
            r["service"],
            "1m",
            r["state"],
            r["triage"],
        )
        for r in table.to_pylist()
    ]
    app = Builtin(rows)
    start = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        paint = time.perf_counter() - start
        after = rss_mb()
        start = time.perf_counter()
        for _ in range(moves):
            await pilot.press("down")
        move = (time.perf_counter() - start) / moves
    return {"first_paint_s": paint, "move_ms": move * 1000, "rss_mb": after - before}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=10_000)
    parser.add_argument("--moves", type=int, default=50)
    args = parser.parse_args()
    ours = asyncio.run(measure_app(args.findings, args.moves))
    print(
        f"audit tui, {args.findings:,} findings: first paint {ours['first_paint_s']:.3f} s, "
        f"cursor move {ours['move_ms']:.1f} ms, +{ours['rss_mb']:.0f} MB RSS "
        f"(building the Arrow table: {ours['build_s']:.2f} s, not counted)"
    )
    base = asyncio.run(measure_builtin(args.baseline_rows, args.moves))
    print(
        f"baseline, Textual DataTable, {args.baseline_rows:,} rows: first paint "
        f"{base['first_paint_s']:.3f} s, cursor move {base['move_ms']:.1f} ms, +{base['rss_mb']:.0f} MB RSS"
    )
    print(
        f"ratio: first paint of {args.findings:,} findings in audit tui / {args.baseline_rows:,} rows "
        f"in the built-in DataTable = {ours['first_paint_s'] / base['first_paint_s']:.3f}"
    )


if __name__ == "__main__":
    main()
