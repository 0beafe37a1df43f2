#!/usr/bin/env python3
"""Scan benchmark, a realistic backlog of lies: ``audit scan --db`` run as a user runs it.

    python bench/scan/backlog.py [--spans 2000000] [--spans 10000000] [--rounds 3]
        [--lie-scale 1.5] [--workdir DIR] [--reuse] [--audit PATH] [--timeout 1800]

For each ``--spans`` size:

1. Generates the scan benchmark's traffic (``traffic.py``) with the lying scenarios'
   shares multiplied by ``--lie-scale`` (the honest ``ok`` share gives up the difference):
   at 1.5, about a tenth of the jobs lie, ~33k findings at 2M spans. The store goes to
   ``--workdir``; the generated lies are kept beside it (``.lies.json``) so that a store kept
   with ``--reuse`` is checked as well as a new one.
2. **auditor**, the whole process: ``audit scan --db STORE --rules bench/scan/rules.yaml
   --format json -o OUT.json`` (built-in packs on, as by default) as a subprocess of the
   installed ``audit`` (the one beside this Python, or ``--audit PATH``). ``audit scan --db``
   keeps its findings in the store, so each round scans a fresh copy of the generated store
   (copied before the clock starts): every round is a first scan, none updates the findings
   of an earlier one. Exit code 1 (findings) is expected.
3. **hand-written**, also a subprocess (Python with only duckdb): ``backlog_baseline.sql``,
   the checks of ``baseline.sql`` carrying the columns a report shows, on the generated store
   opened read-only; its final statement goes to a JSON array with DuckDB's ``COPY (...) TO
   'base.json' (FORMAT JSON, ARRAY true)``: rule, kind, system, job id, job name, trace id,
   effect key and message, the same rows as auditor's report.
4. Wall time (from start to reaped child), peak RSS and CPU time of each child, from
   ``os.wait4`` on that child, by a small launcher process (``LAUNCHER``: a child's peak RSS
   would otherwise start at this process's, which generated the store). Both sides run
   ``--rounds`` times, alternating (auditor, then hand-written right after it), fresh
   processes each time.
5. Checks, on the first round's outputs: both sides report the same findings (rule, kind,
   system, job id, counted with repeats), with the same job name, trace id and effect key,
   and those findings are exactly the generated lies. Messages are compared too, but a
   wording that differs is reported, not counted as a different finding.

Prints per size: spans, jobs, lies, findings, auditor best / median time and peak RSS (the
largest of the rounds), hand-written best time and peak RSS, the ratio best / best, and the
median and range of the ratio within each round; and whether the targets hold: auditor
<= 1.5x the hand-written SQL at 2M spans and <= 1.3x at 10M, peak RSS <= 1 GB at 2M. Exits 1
when the two sides' findings differ (or a child fails): a comparison of different answers
measures nothing. A missed target is reported, not an error.
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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
from common import Finding, build_store, check_lies, sql_statements  # noqa: E402

from bench.rows import Row  # noqa: E402

RULES = HERE / "rules.yaml"
BASELINE = HERE / "backlog_baseline.sql"
DETAILS = ("job_name", "trace_id", "effect_key")  # must agree, beside the finding's identity
# targets per requested size: (ratio auditor / hand-written, peak RSS of auditor in bytes)
TARGETS: dict[int, tuple[float, int | None]] = {
    2_000_000: (1.5, 1_000_000_000),
    10_000_000: (1.3, None),
}
MIN_FINDINGS_2M = 30_000

# The hand-written side: only duckdb, the statements of backlog_baseline.sql (split by
# common.sql_statements in the parent), the last one written as a JSON array.
HAND_CHILD = """
import json, sys
import duckdb
db, statements_file, out = sys.argv[1:4]
with open(statements_file, encoding="utf-8") as f:
    statements = json.load(f)
con = duckdb.connect(db, read_only=True)
for statement in statements[:-1]:
    con.execute(statement)
target = out.replace("'", "''")
con.execute(f"COPY ({statements[-1]}) TO '{target}' (FORMAT JSON, ARRAY true)")
con.close()
"""


# Each measured child is started by this small launcher, which waits for it with os.wait4 and
# prints its wall time and rusage. Why not from this process: a child's peak RSS (ru_maxrss)
# keeps the high-water mark of the address space it was forked from, kept across exec (with
# the vfork that subprocess uses, that address space *is* the parent's), and this process
# holds a generated store's worth of memory. The launcher is a fresh ~10 MB Python.
LAUNCHER = """
import json, os, signal, sys, time
argv, log, timeout = json.loads(sys.argv[1])
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
killed = []
def kill(*_):
    killed.append(1)
    os.kill(pid, signal.SIGKILL)
signal.signal(signal.SIGALRM, kill)
signal.setitimer(signal.ITIMER_REAL, timeout)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
signal.setitimer(signal.ITIMER_REAL, 0)
print(json.dumps({"seconds": seconds, "rss": usage.ru_maxrss * 1024,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "code": os.waitstatus_to_exitcode(status), "timed_out": bool(killed)}))
"""


@dataclass(frozen=True)
class Child:
    """One measured subprocess."""

    seconds: float  # wall time, started to reaped
    rss: int  # peak resident set size (ru_maxrss), bytes
    cpu: float  # user + system seconds
    code: int  # exit code (negative: killed by that signal)
    timed_out: bool
    output: str  # the last lines of its stdout and stderr


def run_child(argv: list[str], log: Path, timeout: float) -> Child:
    """Run ``argv`` (stdout and stderr into ``log``) under the launcher, which measures it."""
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, json.dumps([argv, str(log), timeout])],
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        check=True,
    )
    m = json.loads(launched.stdout)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    return Child(m["seconds"], m["rss"], m["cpu"], m["code"], m["timed_out"], tail)


@dataclass(frozen=True)
class Truth:
    """What the generator made, kept beside the store (``--reuse`` checks against it too)."""

    spans: int
    jobs: int
    lies: set[tuple[str, str, str]]  # (system, job id, kind)


def store_for(size: int, args: argparse.Namespace, workdir: Path) -> tuple[Path, Truth]:
    path = workdir / f"backlog-{size}-x{args.lie_scale:g}.duckdb"
    sidecar = path.with_suffix(".lies.json")
    if args.reuse and path.exists() and sidecar.exists():
        print(f"  reusing {path}")
        data = json.loads(sidecar.read_text())
        return path, Truth(data["spans"], data["jobs"], {tuple(x) for x in data["lies"]})  # type: ignore[misc]
    generated = build_store(path, size, False, lie_scale=args.lie_scale)
    assert generated is not None
    truth = Truth(generated.spans, sum(generated.jobs.values()), generated.lies)
    sidecar.write_text(
        json.dumps({"spans": truth.spans, "jobs": truth.jobs, "lies": sorted(truth.lies)})
    )
    return path, truth


def auditor_rows(out: Path) -> list[dict[str, str]]:
    """The findings of ``audit scan --format json``, with only the columns compared."""
    with open(out, encoding="utf-8") as f:
        document = json.load(f)
    keep = ("rule_id", "kind", "system", "job_id", *DETAILS, "message")
    return [{k: f.get(k) or "" for k in keep} for f in document["findings"]]


def hand_rows(out: Path) -> list[dict[str, str]]:
    with open(out, encoding="utf-8") as f:
        return [{k: v if v is not None else "" for k, v in row.items()} for row in json.load(f)]


def identity(row: dict[str, str]) -> Finding:
    return (row["rule_id"], row["kind"], row["system"], row["job_id"])


def compare(auditor: list[dict[str, str]], hand: list[dict[str, str]]) -> bool:
    """Same findings on both sides? Prints what differs."""
    a, h = Counter(map(identity, auditor)), Counter(map(identity, hand))
    same = a == h
    print(
        f"  findings: auditor {len(auditor):,}, hand-written {len(hand):,}; "
        f"same (rule, kind, system, job id): {same}"
    )
    if not same:
        only_a, only_h = a - h, h - a
        print(f"    only auditor ({sum(only_a.values()):,}): {sorted(only_a)[:8]}")
        print(f"    only hand-written ({sum(only_h.values()):,}): {sorted(only_h)[:8]}")
        for name, rows in (("only auditor", only_a), ("only hand-written", only_h)):
            if rows:
                by = Counter({(k[0], k[1]): 0 for k in rows})
                for k, n in rows.items():
                    by[k[0], k[1]] += n
                print(f"    {name}, by rule and kind: {dict(sorted(by.items()))}")
    # the report's columns, finding by finding (repeated identities compared as sets)
    by_id: dict[Finding, set[tuple[str, ...]]] = {}
    for row in auditor:
        by_id.setdefault(identity(row), set()).add(tuple(row[c] for c in (*DETAILS, "message")))
    details_same = True
    for i, column in enumerate((*DETAILS, "message")):
        differ = [
            (identity(row), sorted(x[i] for x in by_id[identity(row)]), row[column])
            for row in hand
            if identity(row) in by_id and row[column] not in {x[i] for x in by_id[identity(row)]}
        ]
        if column in DETAILS:
            details_same &= not differ
        if differ:
            note = "" if column in DETAILS else " (wording only: not a different finding)"
            print(f"    {column} differs in {len(differ):,} findings{note}, e.g.:")
            for key, ours, theirs in differ[:3]:
                print(f"      {key}: auditor {ours}, hand-written {theirs!r}")
        else:
            common = sum(1 for row in hand if identity(row) in by_id)
            print(f"    {column}: same in every finding ({common:,} on both sides)")
    return same and details_same


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def bench(size: int, args: argparse.Namespace, workdir: Path, audit: str) -> dict[str, object]:
    print(f"\n== {size:,} spans (lie scale {args.lie_scale:g})", flush=True)
    store, truth = store_for(size, args, workdir)
    print(
        f"  store {store} ({truth.spans:,} spans, {truth.jobs:,} jobs, {len(truth.lies):,} "
        f"lying jobs, {store.stat().st_size / 2**20:,.0f} MiB)",
        flush=True,
    )
    work = workdir / "audit-scan.duckdb"
    out_a, out_h = workdir / f"audit-{size}.json", workdir / f"hand-{size}.json"
    statements = workdir / "hand-statements.json"
    statements.write_text(json.dumps(sql_statements(BASELINE)))
    auditor_argv = [audit, "scan", "--db", str(work), "--rules", str(RULES)]
    auditor_argv += ["--format", "json", "-o", str(out_a)]
    hand_argv = [sys.executable, "-c", HAND_CHILD, str(store), str(statements), str(out_h)]

    runs_a: list[Child] = []
    runs_h: list[Child] = []
    result: dict[str, object] = {"size": size, "spans": truth.spans, "jobs": truth.jobs}
    result["lies"] = len(truth.lies)
    checked = False
    for round_ in range(args.rounds):
        for stale in (work, work.with_suffix(".duckdb.wal"), out_a, out_h):
            stale.unlink(missing_ok=True)
        shutil.copyfile(store, work)  # a first scan each round (see the docstring)
        a = run_child(auditor_argv, workdir / "audit.log", args.timeout)
        if a.code not in (0, 1) or a.timed_out or not out_a.exists():
            why = f"timed out after {args.timeout:.0f} s" if a.timed_out else f"exit {a.code}"
            print(f"  round {round_ + 1}: audit scan failed ({why}):\n{a.output}")
            result["error"] = f"audit scan {why}"
            return result
        h = run_child(hand_argv, workdir / "hand.log", args.timeout)
        if h.code != 0 or not out_h.exists():
            why = f"timed out after {args.timeout:.0f} s" if h.timed_out else f"exit {h.code}"
            print(f"  round {round_ + 1}: hand-written SQL failed ({why}):\n{h.output}")
            result["error"] = f"hand-written SQL {why}"
            return result
        runs_a.append(a)
        runs_h.append(h)
        print(
            f"  round {round_ + 1}: auditor {a.seconds:.2f} s (cpu {a.cpu:.1f} s, peak RSS "
            f"{mb(a.rss)}, exit {a.code}); hand-written {h.seconds:.2f} s (cpu {h.cpu:.1f} s, "
            f"peak RSS {mb(h.rss)}); ratio {a.seconds / h.seconds:.2f}x; "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if not checked:  # the answers do not change between rounds: check them once
            checked = True
            rows_a, rows_h = auditor_rows(out_a), hand_rows(out_h)
            same = compare(rows_a, rows_h)
            exact = check_lies(map(identity, rows_a), truth.lies)
            kinds = Counter(r["kind"] for r in rows_a)
            print("  by kind:", dict(sorted(kinds.items())), flush=True)
            result.update(findings=len(rows_a), same=same, exact=exact)
            if not same:
                keep_a, keep_h = (
                    workdir / f"differ-audit-{size}.json",
                    workdir / f"differ-hand-{size}.json",
                )
                shutil.copyfile(out_a, keep_a)
                shutil.copyfile(out_h, keep_h)
                print(f"  kept both outputs: {keep_a} {keep_h}")
            del rows_a, rows_h
    for stale in (work, work.with_suffix(".duckdb.wal"), out_a, out_h, statements):
        stale.unlink(missing_ok=True)
    if not args.reuse:
        store.unlink(missing_ok=True)
        store.with_suffix(".lies.json").unlink(missing_ok=True)

    times_a = [r.seconds for r in runs_a]
    best_a, best_h = min(times_a), min(r.seconds for r in runs_h)
    paired = sorted(a.seconds / h.seconds for a, h in zip(runs_a, runs_h, strict=True))
    result.update(
        auditor_best=best_a,
        auditor_median=statistics.median(times_a),
        auditor_rss=max(r.rss for r in runs_a),
        auditor_cpu=min(r.cpu for r in runs_a),
        hand_best=best_h,
        hand_rss=max(r.rss for r in runs_h),
        hand_cpu=min(r.cpu for r in runs_h),
        ratio=best_a / best_h,
        paired_median=statistics.median(paired),
        paired_min=paired[0],
        paired_max=paired[-1],
        rounds=len(paired),
    )
    verdicts = []
    ratio_target, rss_target = TARGETS.get(size, (None, None))
    if ratio_target is not None:
        held = best_a / best_h <= ratio_target
        verdicts.append(f"ratio <= {ratio_target}x: {'met' if held else 'missed'}")
    if rss_target is not None:
        held = result["auditor_rss"] <= rss_target  # type: ignore[operator]
        verdicts.append(f"peak RSS <= {mb(rss_target)}: {'met' if held else 'missed'}")
    if size == 2_000_000 and result["findings"] < MIN_FINDINGS_2M:  # type: ignore[operator]
        verdicts.append(f"fewer than {MIN_FINDINGS_2M:,} findings: raise --lie-scale")
    result["targets"] = "; ".join(verdicts) or "no target at this size"
    print(
        f"  auditor: best {best_a:.2f} s, median {result['auditor_median']:.2f} s, peak RSS "
        f"{mb(result['auditor_rss'])}; hand-written: best {best_h:.2f} s, peak RSS "  # type: ignore[arg-type]
        f"{mb(result['hand_rss'])}"  # type: ignore[arg-type]
    )
    print(
        f"  ratio best/best {best_a / best_h:.2f}x; within a round: median "
        f"{result['paired_median']:.2f}x (range {paired[0]:.2f}-{paired[-1]:.2f}x, "
        f"{len(paired)} rounds); targets: {result['targets']}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None, into: list[dict[str, object]] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spans", type=int, action="append", help="store size (repeatable; default 2,000,000)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--lie-scale",
        type=float,
        default=1.5,
        help="multiply the lying scenarios' shares of jobs (traffic.generate's lie_scale)",
    )
    parser.add_argument(
        "--workdir",
        help="stores and outputs (default: a new temporary directory, removed at the end; "
        "with --reuse, $TMPDIR/auditor-bench-backlog)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the store an earlier --reuse run left in the workdir, and keep it",
    )
    parser.add_argument(
        "--audit",
        default=str(Path(sys.executable).parent / "audit"),
        help="the audit executable (default: the one beside this Python)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="kill a child after this many seconds"
    )
    args = parser.parse_args(argv)
    sizes = args.spans or [2_000_000]
    temporary = args.workdir is None and not args.reuse
    if temporary:
        workdir = Path(tempfile.mkdtemp(prefix="auditor-bench-backlog-"))
    else:
        default = Path(os.environ.get("TMPDIR", "/tmp")) / "auditor-bench-backlog"
        workdir = Path(args.workdir) if args.workdir else default
        workdir.mkdir(parents=True, exist_ok=True)
    audit = shutil.which(args.audit) or args.audit
    version = subprocess.run([audit, "--version"], capture_output=True, text=True).stdout.strip()
    print(
        f"backlog benchmark: {audit} ({version or 'version unknown'}), duckdb "
        f"{duckdb.__version__}, python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; workdir {workdir}",
        flush=True,
    )
    floor = run_child(["true"], workdir / "true.log", 60)
    print(f"  peak RSS of `true` under the launcher (the floor): {mb(floor.rss)}", flush=True)
    results = []
    try:
        results = [bench(size, args, workdir, audit) for size in sizes]
    finally:
        differ = any(not r.get("same", True) for r in results)
        if temporary and not differ:
            shutil.rmtree(workdir, ignore_errors=True)

    print(
        "\n| spans | jobs | lying jobs | findings | auditor best | auditor median "
        "| auditor peak RSS | hand-written best | hand-written peak RSS | ratio (best) "
        "| ratio within a round: median (range) | CPU s, auditor / hand-written (least) "
        "| same findings | = generated lies | targets |"
    )
    print("|" + "---:|" * 12 + "---|" * 3)
    for r in results:
        if "error" in r:
            print(f"| {r['spans']:,} | {r['jobs']:,} | {r['lies']:,} | " + f"{r['error']} |")
            continue
        print(
            f"| {r['spans']:,} | {r['jobs']:,} | {r['lies']:,} | {r['findings']:,} "
            f"| {r['auditor_best']:.2f} s | {r['auditor_median']:.2f} s | {mb(r['auditor_rss'])} "  # type: ignore[arg-type]
            f"| {r['hand_best']:.2f} s | {mb(r['hand_rss'])} | {r['ratio']:.2f}x "  # type: ignore[arg-type]
            f"| {r['paired_median']:.2f}x ({r['paired_min']:.2f}-{r['paired_max']:.2f}x, "
            f"{r['rounds']} rounds) | {r['auditor_cpu']:.1f} / {r['hand_cpu']:.1f} "
            f"| {'yes' if r['same'] else 'NO'} "
            f"| {'yes' if r['exact'] else 'NO'} "
            f"| {r['targets']} |"
        )
    if into is not None:
        into.extend(results)
    failed = any("error" in r or not r["same"] for r in results)
    return 1 if failed else 0


def rows(quick: bool) -> list[Row]:
    """For ``python -m bench``: 2M spans, 3 rounds (quick: 20,000 spans, one round)."""
    results: list[dict[str, Any]] = []
    sizes = ["--spans", "20000", "--rounds", "1"] if quick else ["--spans", "2000000"]
    code = main(sizes, into=results)  # type: ignore[arg-type]
    (r,) = results
    if code != 0 or "error" in r:
        raise SystemExit(f"the scan benchmark failed: {r.get('error', 'findings differ')}")
    ratio_target, rss_target = TARGETS.get(r["size"], (None, None))
    spans = f"{r['spans']:,} spans"
    return [
        Row(
            f"scan: audit scan --db of {spans}", r["auditor_best"], "s",
            f"<= {ratio_target}x hand-written" if ratio_target else "",
            r["hand_best"], "hand-written SQL",
            None if ratio_target is None else r["auditor_best"] / r["hand_best"] <= ratio_target,
        ),
        Row(
            f"scan: peak RSS of audit scan, {spans}", r["auditor_rss"] / 1e6, "MB",
            f"<= {rss_target / 1e6:,.0f} MB" if rss_target else "",
            r["hand_rss"] / 1e6, "hand-written SQL",
            None if rss_target is None else r["auditor_rss"] <= rss_target,
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
