#!/usr/bin/env python3
"""Tick benchmark: one incremental evaluation tick of ``audit serve`` with 1M and 10M spans
stored and 10k new, against the full re-derive pass the sidecar made before.

    python bench/tick/run.py [--spans 1000000] [--spans 10000000] [--new 10000] [--ticks 5]
        [--spans-per-s 90] [--workdir DIR] [--reuse]

For each ``--spans`` size:

1. Generates job traffic into a store file (``bench/scan/traffic.py``: the real Celery / RQ /
   BullMQ captures' jobs with fresh ids, about 1.5% lying in each way) at ``--spans-per-s``
   (the same rate at every size, so a bigger store holds a longer past, as a sidecar's does),
   then takes the last ``--ticks`` x ``--new`` spans out of it: the traffic still to come.
2. Runs the first tick (a full pass: every span derived into the kept tables, every unit
   judged), then, ``--ticks`` times, inserts the next ``--new`` spans as one commit and times
   one incremental tick as of the newest span's time (``engine/incremental.py``).
3. Baseline, in the same run and on the same store: the full pass the loop made before —
   ``evaluate`` over the whole store (derive everything, run every rule) and ``save_findings``.
4. Checks that the findings the ticks kept equal those of the full evaluation (fingerprint,
   kind, state). ``--no-full-check`` skips 3 and 4 and takes the first tick (a full pass,
   which also copies the derived rows into the kept tables) as the baseline.

Prints the median tick, the baseline, their ratio, and at the end the ratio of the median tick
at the largest size to the one at the smallest. The rules are ``bench/scan/rules.yaml``
(with the built-in packs), whose longest window (``complete_within: 15m``) makes the
horizon of a tick's lookups 30 minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "bench" / "scan"))
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import traffic  # noqa: E402

from auditor.clock import FixedClock, from_ns, naive_utc  # noqa: E402
from auditor.engine.catalog import load_catalog  # noqa: E402
from auditor.engine.evaluate import evaluate  # noqa: E402
from auditor.engine.incremental import Incremental  # noqa: E402
from auditor.otlp.batch import ARROW_SCHEMA  # noqa: E402
from auditor.store.duck import DuckStore  # noqa: E402
from auditor.store.findings import save_findings  # noqa: E402

RULES = REPO / "bench" / "scan" / "rules.yaml"
SPANS_PER_JOB = 16.5  # about, in the generated traffic (noise included)


def _store(path: Path, spans: int, spans_per_s: float, reuse: bool) -> None:
    if reuse and path.exists():
        print(f"  reusing {path}")
        return
    path.unlink(missing_ok=True)
    path.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    gap_ns = round(SPANS_PER_JOB / spans_per_s * 1e9)
    with DuckStore(path) as store:
        generated = traffic.generate(store, spans, gap_ns=gap_ns)
        store.checkpoint()
    print(f"  generated {generated.spans:,} spans in {generated.seconds:.1f} s")


def _take_newest(store: DuckStore, count: int) -> pa.Table:
    """Remove the newest ``count`` spans from the store and return them (in time order)."""
    con = store.con
    cut = con.execute(
        'SELECT "Timestamp" FROM otel_traces ORDER BY "Timestamp" DESC LIMIT 1 OFFSET ?',
        [count - 1],
    ).fetchall()[0][0]
    columns = ", ".join(f'"{name}"' for name in ARROW_SCHEMA.names)
    newest = con.execute(
        f'SELECT {columns} FROM otel_traces WHERE "Timestamp" >= ? ORDER BY "Timestamp"', [cut]
    ).to_arrow_table()
    con.execute('DELETE FROM otel_traces WHERE "Timestamp" >= ?', [cut])
    return newest.cast(ARROW_SCHEMA)


def _max_ns(table: pa.Table) -> int:
    return int(pa.compute.max(table["Timestamp"]).cast(pa.int64()).as_py())


def one_size(workdir: Path, spans: int, args: argparse.Namespace) -> float:
    print(f"\n== {spans:,} spans stored, {args.new:,} new per tick ==")
    path = workdir / f"tick-{spans}.duckdb"
    _store(path, spans + args.ticks * args.new, args.spans_per_s, args.reuse)
    catalog = load_catalog([RULES])
    with DuckStore(path) as store:
        con = store.con
        con.execute("DELETE FROM findings")
        con.execute("DELETE FROM auditor_watermarks")
        coming = _take_newest(store, args.ticks * args.new)
        stored = store.span_count()
        clock = FixedClock(_max_ns(coming))
        incremental = Incremental(catalog)
        print(f"  stored {stored:,}; horizon {incremental.horizon_ns / 60e9:.0f} min")
        cursor = store.cursor()
        started = time.perf_counter()
        first = incremental.tick(cursor, clock.now_ns())
        full_pass = time.perf_counter() - started
        print(f"  first tick (full pass, kept tables built): {full_pass:.2f} s")
        assert first.full
        ticks = []
        for i in range(args.ticks):
            chunk = coming.slice(i * args.new, args.new)
            store.insert(chunk)
            now = max(_max_ns(chunk), clock.now_ns())
            started = time.perf_counter()
            tick = incremental.tick(cursor, now)
            took = time.perf_counter() - started
            ticks.append(took)
            parts = ", ".join(f"{k} {v * 1e3:.0f}" for k, v in tick.seconds.items())
            print(
                f"  tick {i + 1}: {took * 1e3:.0f} ms ({tick.new_spans:,} spans re-derived, "
                f"{tick.traces:,} traces re-judged; ms: {parts})"
            )
        cursor.close()
        kept = set(
            con.execute(
                "SELECT fingerprint, kind, state FROM findings WHERE origin = 'serve' "
                "AND state <> 'resolved'"
            ).fetchall()
        )
        if args.no_full_check:
            median = statistics.median(ticks)
            print(f"  median tick: {median * 1e3:.0f} ms; baseline (the first tick's full "
                  f"pass): {full_pass:.2f} s; baseline / tick: {full_pass / median:.0f}x")  # fmt: skip
            return median
        now = max(_max_ns(coming), clock.now_ns())
        cursor = store.cursor()
        started = time.perf_counter()
        full = evaluate(cursor, catalog, as_of_ns=now)
        save_findings(
            cursor, full.findings, "baseline", naive_utc(from_ns(now)),
            [r.id for r in catalog.enabled_rules()],
        )  # fmt: skip
        baseline = time.perf_counter() - started
        cursor.close()
        table = full.findings.table
        expected = set(
            zip(table["fingerprint"].to_pylist(), table["kind"].to_pylist(),
                table["state"].to_pylist(), strict=True)
        )  # fmt: skip
        same = kept == expected
    median = statistics.median(ticks)
    print(f"  median tick: {median * 1e3:.0f} ms; baseline full pass: {baseline:.2f} s; "
          f"baseline / tick: {baseline / median:.0f}x")  # fmt: skip
    print(f"  findings kept by the ticks = full evaluation: {same} ({len(expected):,} findings)")
    if not same:
        print(f"    only in ticks: {len(kept - expected)}, only in full: {len(expected - kept)}")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, action="append")
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--spans-per-s", type=float, default=90.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/auditor-bench-tick"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--no-full-check",
        action="store_true",
        help="skip the full evaluation at the end (the first tick's full pass is the baseline)",
    )
    args = parser.parse_args()
    sizes = args.spans or [1_000_000, 10_000_000]
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
          f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    medians = {size: one_size(args.workdir, size, args) for size in sizes}
    if len(medians) > 1:
        small, large = min(medians), max(medians)
        print(f"\nratio median tick {large:,} / {small:,}: "
              f"{medians[large] / medians[small]:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
