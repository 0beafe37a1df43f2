#!/usr/bin/env python3
"""The same scan on DuckDB and on chDB: ``audit scan --db`` against ``audit scan --backend chdb://``.

    python bench/scan/clickhouse.py [--spans 2000000] [--rounds 2] [--lie-scale 1.5]
        [--workdir DIR] [--reuse] [--audit PATH] [--timeout 1800]

Needs the ``[clickhouse]`` extra. For each ``--spans`` size:

1. Generates the scan benchmark's backlog traffic (``traffic.py`` via ``common.build_store``,
   the lying shares times ``--lie-scale``) into a DuckDB store, and copies its spans into
   ClickHouse's ``otel_traces`` (chDB in ``--workdir``, the Collector exporter's table) with
   ``ClickHouseStore.insert``, the path ``audit ingest --backend`` takes. The copy's time is
   printed, not measured against anything.
2. **duckdb** (the baseline): ``audit scan --db COPY --rules bench/scan/rules.yaml --format
   json`` on a fresh copy of the store each round (``--db`` keeps findings in the store).
3. **chdb**: ``audit scan --backend chdb://DIR --rules … --format json``: the spans are read
   from ClickHouse (Arrow) into an in-memory DuckDB, where the rules run (docs/clickhouse.md).
   Both are subprocesses of the installed ``audit``, alternating, ``--rounds`` each; wall
   time from start to exit.
4. Checks: the two reports hold the same findings, compared whole (each finding's JSON:
   fingerprint, kind, state, message, evidence), and they are exactly the generated lies.

Prints spans, findings, the best and median of each side, and the ratio chdb / duckdb
(best / best). Exits 1 when the findings differ or a scan fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
from common import build_store, check_lies  # noqa: E402

from auditor.otlp.batch import COLUMNS  # noqa: E402
from auditor.store.backend import parse_backend  # noqa: E402
from auditor.store.clickhouse import ClickHouseStore  # noqa: E402

RULES = HERE / "rules.yaml"
CHUNK = 200_000


def fill_chdb(store: Path, folder: Path) -> tuple[int, float]:
    """Copy the DuckDB store's spans into chDB's otel_traces; (spans stored, seconds)."""
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    stored = 0
    con = duckdb.connect(str(store), read_only=True)
    with ClickHouseStore(parse_backend(f"chdb://{folder}")) as ch:
        reader = con.sql(f'SELECT {columns} FROM otel_traces ORDER BY "Timestamp"').to_arrow_reader(
            CHUNK
        )
        for batch in reader:
            stored += ch.insert(pa.Table.from_batches([batch])).stored
    con.close()
    return stored, time.perf_counter() - started


def scan(audit: str, where: list[str], out: Path, timeout: float) -> float:
    argv = [audit, "scan", *where, "--rules", str(RULES), "--format", "json", "-o", str(out)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def findings(out: Path) -> list[dict]:
    with open(out, encoding="utf-8") as f:
        return sorted(json.load(f)["findings"], key=lambda x: x["fingerprint"])


def bench(size: int, args: argparse.Namespace, workdir: Path, audit: str) -> bool:
    store = workdir / f"backlog-{size}-x{args.lie_scale:g}.duckdb"
    lies_file = store.with_suffix(".lies.json")
    folder = workdir / f"chdb-{size}"
    if args.reuse and store.exists() and lies_file.exists() and folder.exists():
        lies = {tuple(x) for x in json.loads(lies_file.read_text())["lies"]}
        print(f"  reusing {store} and {folder}")
    else:
        generated = build_store(store, size, False, lie_scale=args.lie_scale)
        assert generated is not None
        lies = generated.lies
        lies_file.write_text(json.dumps({"lies": sorted(lies)}))
        stored, seconds = fill_chdb(store, folder)
        print(f"  copied {stored:,} spans into chDB's otel_traces in {seconds:.1f} s")
    duck_times: list[float] = []
    ch_times: list[float] = []
    outs = {"duckdb": workdir / "duckdb.json", "chdb": workdir / "chdb.json"}
    for _ in range(args.rounds):
        copy = workdir / "scan-copy.duckdb"
        shutil.copyfile(store, copy)
        duck_times.append(scan(audit, ["--db", str(copy)], outs["duckdb"], args.timeout))
        copy.unlink()
        ch_times.append(scan(audit, ["--backend", f"chdb://{folder}"], outs["chdb"], args.timeout))
    on_duck, on_ch = findings(outs["duckdb"]), findings(outs["chdb"])
    same = on_duck == on_ch
    exact = check_lies(((f["rule_id"], f["kind"], f["system"], f["job_id"]) for f in on_ch), lies)
    print(
        f"  spans {size:,}; findings duckdb {len(on_duck):,}, chdb {len(on_ch):,}; identical: {same}"
    )
    print(
        f"  duckdb: best {min(duck_times):.2f} s, median {statistics.median(duck_times):.2f} s"
        f"  |  chdb: best {min(ch_times):.2f} s, median {statistics.median(ch_times):.2f} s"
        f"  |  ratio chdb/duckdb (best/best) {min(ch_times) / min(duck_times):.2f}x"
    )
    return same and exact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--lie-scale", type=float, default=1.5)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--audit", default=str(Path(sys.executable).with_name("audit")))
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="auditor-bench-ch-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
        f", DuckDB {duckdb.__version__}"
    )
    ok = True
    for size in args.spans or [2_000_000]:
        print(f"--spans {size:,}")
        ok = bench(size, args, workdir, args.audit) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
