#!/usr/bin/env python3
"""JSON report benchmark: ``--format json`` of 100k findings, against DuckDB writing the same rows.

    python bench/scan/render.py [--findings 100000] [--rounds 5] [--spans 300000]

1. Makes real findings: generated traffic (``traffic.py``, lies scaled up) in an in-memory
   store, evaluated by the engine with the built-in packs and ``rules.yaml`` (so every finding
   has its message, evidence and nearest misses, as in ``audit scan``). Their table is
   repeated, with fresh fingerprints, until it holds ``--findings`` rows.
2. Times ``reports.write_report("json", …)`` writing the whole document to a file: what
   ``audit scan --format json -o FILE`` does after the evaluation.
3. Baseline, in the same run: DuckDB's own JSON writer, ``COPY (SELECT <the finding
   columns>) TO FILE (FORMAT JSON, ARRAY true)`` over the same Arrow table.

Prints the best of ``--rounds`` for each, their ratio, and whether the target holds
(100k findings in at most 1 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import traffic  # noqa: E402

from auditor.engine.catalog import load_catalog  # noqa: E402
from auditor.engine.evaluate import evaluate  # noqa: E402
from auditor.findings.model import Severity  # noqa: E402
from auditor.findings.report import Report  # noqa: E402
from auditor.findings.table import FINDING_FIELDS, FindingTable  # noqa: E402
from auditor.reports import write_report  # noqa: E402
from auditor.store.duck import DuckStore  # noqa: E402
from bench.rows import Row  # noqa: E402

TARGET_S = 1.0


def findings(count: int, spans: int) -> pa.Table:
    with DuckStore(":memory:") as store:
        traffic.generate(store, spans, lie_scale=1.5)
        table = evaluate(store.con, load_catalog([HERE / "rules.yaml"])).findings.table
    copies = []
    for i in range(-(-count // table.num_rows)):
        fps = pc.binary_join_element_wise(table.column("fingerprint"), pa.scalar(f"{i:04d}"), "")
        copies.append(
            table.set_column(table.schema.get_field_index("fingerprint"), "fingerprint", fps)
        )
    return pa.concat_tables(copies).slice(0, count).combine_chunks()


def best(what, rounds: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        what()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None, into: dict[str, float] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--spans", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    table = findings(args.findings, args.spans)
    report = Report(findings=FindingTable(table), rules={}, fail_on=Severity.LOW)
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = Path(tmp) / "report.json", Path(tmp) / "copy.json"

        def auditor() -> None:
            with ours.open("w", encoding="utf-8") as out:
                write_report("json", report, out.write)

        con = duckdb.connect()
        con.register("f", table)
        columns = ", ".join(f'"{c}"' for c in FINDING_FIELDS)

        def copy() -> None:
            con.execute(f"COPY (SELECT {columns} FROM f) TO '{theirs}' (FORMAT JSON, ARRAY true)")

        mine, base = best(auditor, args.rounds), best(copy, args.rounds)
        written = json.loads(ours.read_text(encoding="utf-8"))
        assert len(written["findings"]) == args.findings
        assert len(json.loads(theirs.read_text(encoding="utf-8"))) == args.findings
        size = ours.stat().st_size / 1e6
    if into is not None:
        into.update(auditor_s=mine, copy_s=base, findings=args.findings)
    verdict = "met" if mine <= TARGET_S else "missed"
    print(
        f"{args.findings:,} findings ({size:.0f} MB of JSON): auditor --format json {mine:.3f} s, "
        f"DuckDB COPY {base:.3f} s, ratio {mine / base:.2f}x; target <= {TARGET_S:.0f} s: {verdict}"
    )
    return 0


def rows(quick: bool) -> list[Row]:
    """For ``python -m bench``: 100k findings, best of 5 (quick: 2,000, one round)."""
    result: dict[str, float] = {}
    sizes = ["--findings", "2000", "--spans", "20000", "--rounds", "1"] if quick else []
    main(sizes, into=result)
    return [
        Row(
            f"scan: --format json of {result['findings']:,.0f} findings", result["auditor_s"],
            "s", f"<= {TARGET_S:g} s (100k findings)", result["copy_s"], "DuckDB COPY",
            None if quick else result["auditor_s"] <= TARGET_S,
        )
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
