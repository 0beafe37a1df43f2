"""``python -m bench [--quick] [--only NAME]…``: run every benchmark and print one table.

Each benchmark of ``bench/registry.py`` runs in a process of its own and hands back its rows
(figure, value, target, the baseline measured in the same run, their ratio). A benchmark that
fails is a row saying so; the others still run. Exit 1 when one failed or missed its target.
``--quick`` runs tiny sizes (a smoke test: its figures are not measurements).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.registry import BENCHES  # noqa: E402
from bench.rows import Row, load  # noqa: E402

# Runs in the child: the script's module-level code (its sys.path set-up) then rows().
_CHILD = """
import runpy, sys
sys.path.insert(0, sys.argv[4])
from bench.rows import save
from pathlib import Path
namespace = runpy.run_path(sys.argv[1], run_name="bench_rows")
save(namespace["rows"](sys.argv[2] == "quick"), Path(sys.argv[3]))
"""


def run_one(name: str, script: str, quick: bool, timeout: float) -> tuple[list[Row], str]:
    with tempfile.TemporaryDirectory(prefix=f"auditor-bench-{name}-") as tmp:
        out = Path(tmp) / "rows.json"
        argv = [sys.executable, "-c", _CHILD, str(REPO / script)]
        argv += ["quick" if quick else "full", str(out), str(REPO)]
        try:
            done = subprocess.run(argv, cwd=REPO, timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            return [], f"did not finish in {timeout:.0f} s"
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return [], f"exit {done.returncode}: {tail[0]}"
        return load(out), ""


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(results: list[tuple[str, list[Row], str]]) -> str:
    lines = [
        "| bench | figure | value | target | baseline (same run) | ratio | target met |",
        "| --- | --- | ---: | --- | ---: | ---: | --- |",
    ]
    for name, rows, error in results:
        if error:
            lines.append(f"| {name} | FAILED: {error} | | | | | no |")
        for r in rows:
            base = f"{number(r.baseline)} {r.unit} ({r.baseline_name})" if r.baseline else "—"
            ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
            met = {True: "yes", False: "**no**", None: "—"}[r.met]
            lines.append(
                f"| {name} | {r.figure} | {number(r.value)} {r.unit} | {r.target or '—'} "
                f"| {base} | {ratio} | {met} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--only", action="append", choices=sorted(BENCHES), help="repeatable")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHES)
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cores} cores, "
        f"{memory:.0f} GiB, Python {platform.python_version()}, load "
        f"{os.getloadavg()[0]:.1f}{', --quick (not measurements)' if args.quick else ''}",
        flush=True,
    )
    results = []
    for name in names:
        started = time.monotonic()
        print(f"running {name} …", flush=True)
        rows, error = run_one(name, BENCHES[name], args.quick, args.timeout)
        print(f"  {name}: {time.monotonic() - started:.0f} s{'; ' + error if error else ''}")
        results.append((name, rows, error))
    print()
    print(table(results))
    failed = any(error or any(r.met is False for r in rows) for _, rows, error in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
