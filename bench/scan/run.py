#!/usr/bin/env python3
"""Scan benchmark: ``audit scan --db`` in-process against hand-written DuckDB SQL.

    python bench/scan/run.py [--spans 1000000] [--spans 10000000] [--workdir DIR] [--reuse]

For each ``--spans`` size:

1. Generates job traffic (``traffic.py``: the real Celery / RQ / BullMQ captures' jobs copied
   with fresh ids, about 1.5% of jobs lying in each way) into a DuckDB store file with
   ``DuckStore.insert`` of Arrow batches, and knows which jobs lie.
2. Times what ``audit scan --db STORE --rules bench/scan/rules.yaml`` does, in-process:
   ``load_catalog`` (built-in packs + the 10 rules) and ``engine.evaluate.evaluate`` (derive the
   narrow tables, run every check, attach evidence), split into derive / rules / evidence.
3. Times ``baseline.sql``: the same checks written by hand over ``otel_traces``.
4. Checks that both find the same findings (rule, kind, system, job id) and that those are
   exactly the generated lies, and prints seconds and the ratio auditor / hand-written.

Each side runs ``--rounds`` times (default 2), alternating, each on a freshly opened
connection; the best time of each is compared, and so is each round's auditor time with the
hand-written time right after it (median and range of those paired ratios: on a machine whose
speed drifts, the two runs of a round see the same machine). With ``--explain`` (or when the ratio misses the
1.5x target) it times every derive statement and every check query of auditor on its own, and
writes ``EXPLAIN ANALYZE`` of the slowest ones to ``WORKDIR/explain-<size>.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
from common import Finding, build_store, check_lies, sql_statements  # noqa: E402

from auditor.engine.catalog import load_catalog  # noqa: E402
from auditor.engine.evaluate import (  # noqa: E402
    _effect_groups,
    _statement,
    evaluate,
    forget_compiled,
)
from auditor.rules.compiler import compile_rule, params_in  # noqa: E402
from auditor.sqlbuild import DUCKDB  # noqa: E402
from auditor.store.duck import DuckStore  # noqa: E402

RULES = HERE / "rules.yaml"
BASELINE = HERE / "baseline.sql"
TARGET_RATIO = 1.5


def run_auditor(
    path: Path, evidence: bool = True, timeout: float | None = None
) -> tuple[dict[str, float], set[Finding], list[list], str]:
    """What ``audit scan --db PATH --rules rules.yaml`` does, in-process, every statement timed.
    Interrupted after ``timeout`` seconds; the last value says why it failed ("" if it did not)."""
    forget_compiled()  # every round pays for compiling, as a fresh `audit scan` does
    started = time.perf_counter()
    catalog = load_catalog([RULES])
    loaded = time.perf_counter() - started
    with DuckStore(path) as store:
        recorder = _Recorder(store.con)
        timer = threading.Timer(timeout, store.con.interrupt) if timeout else None
        if timer is not None:
            timer.start()
        started = time.perf_counter()
        try:
            evaluation = evaluate(recorder, catalog, evidence=evidence)  # type: ignore[arg-type]
        except duckdb.Error as exc:
            elapsed = time.perf_counter() - started
            reason = str(exc).splitlines()[0]
            return (
                {"total": elapsed},
                set(),
                recorder.log,
                f"failed after {elapsed:.0f} s: {reason}",
            )
        finally:
            if timer is not None:
                timer.cancel()
        total = time.perf_counter() - started
    seconds = {"catalog": loaded, "evidence": 0.0, **evaluation.seconds, "total": loaded + total}
    found = {(f.rule_id, str(f.kind), f.system, f.job_id) for f in evaluation.findings}
    return seconds, found, recorder.log, ""


def baseline_statements() -> list[str]:
    return sql_statements(BASELINE)


def run_hand(path: Path) -> tuple[float, set[Finding]]:
    statements = baseline_statements()
    con = duckdb.connect(str(path))
    try:
        started = time.perf_counter()
        for statement in statements[:-1]:
            con.execute(statement)
        rows = con.execute(statements[-1]).fetchall()
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return seconds, {tuple(r) for r in rows}  # type: ignore[misc]


class _Recorder:
    """A DuckDB connection that times every statement run through it (execute + fetch), so
    that one ``evaluate`` call shows where its time goes without knowing its internals."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.log: list[list] = []  # [seconds, sql, params, registered tables]
        self._registered: dict[str, object] = {}

    def register(self, name: str, value: object) -> object:
        self._registered[name] = value
        return self._con.register(name, value)

    def unregister(self, name: str) -> object:
        return self._con.unregister(name)

    def execute(self, sql: str, params: object = None) -> _Result:
        started = time.perf_counter()
        result = self._con.execute(sql, params) if params is not None else self._con.execute(sql)
        entry = [time.perf_counter() - started, sql, params, dict(self._registered)]
        self.log.append(entry)
        return _Result(result, entry)

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


class _Result:
    def __init__(self, result: duckdb.DuckDBPyConnection, entry: list) -> None:
        self._result, self._entry = result, entry

    @property
    def description(self) -> object:
        return self._result.description

    def fetchall(self) -> list:
        started = time.perf_counter()
        rows = self._result.fetchall()
        self._entry[0] += time.perf_counter() - started
        return rows


def _key(sql: str, params: object) -> tuple[str, str]:
    return sql, repr(sorted(params.items())) if isinstance(params, dict) else ""


def _label(sql: str, params: object, checks: dict[tuple[str, str], str]) -> str:
    if _key(sql, params) in checks:
        return checks[_key(sql, params)]
    if sql.startswith("CREATE OR REPLACE TEMP TABLE"):
        return "derive " + sql.split('"')[1]
    if "evidence_unconfirmed" in sql:
        return "evidence: nearest misses"
    if "evidence_refs" in sql:
        return "evidence: spans"
    return "other: " + " ".join(sql.split())[:60]


def explain(
    path: Path, log: list[list], out: Path, top: int, limit_s: float
) -> list[tuple[float, str]]:
    """Label the statements of one recorded evaluation, slowest first, and write EXPLAIN
    ANALYZE of the ``top`` slowest that took under ``limit_s`` to ``out``."""
    catalog = load_catalog([RULES])
    compiled = {rule.id: compile_rule(rule) for rule in catalog.enabled_rules()}
    checks = {
        _key(check.body_sql(), check.body_params): f"{rule_id} {check.check}"
        for rule_id, c in compiled.items()
        for check in c.checks
    }
    # the statement evaluate() runs per rule (every check of it at once), made the same way
    rules = list(catalog.enabled_rules())
    shared, _ = _effect_groups(rules)
    for rule in rules:
        judged = "none" if catalog.is_builtin(rule) else "count"
        tables = (("e", shared[rule.id]),) if rule.id in shared else ()
        checks[_key(*_statement(rule, judged, tables))] = f"rule {rule.id}"
    owner = {
        _key(check.body_sql(), check.body_params): c
        for c in compiled.values()
        for check in (*c.checks, c.judged)
    }
    with DuckStore(path) as store, open(out, "w") as f:
        # the derived tables, in the order the evaluation made them
        for _, sql, params, _ in log:
            if sql.startswith("CREATE OR REPLACE TEMP TABLE") and sql.split('"')[1] in (
                "job_runs",
                "enqueues",
                "effects",
                "signals",
                "error_spans",
            ):
                store.con.execute(sql, params) if params else store.con.execute(sql)
        log = sorted(log, key=lambda e: -e[0])
        explained = 0
        for seconds, sql, params, registered in log:
            if explained == top:
                break
            label = _label(sql, params, checks)
            if seconds > limit_s:
                f.write(f"==== {label}: {seconds:.3f} s (not re-run: over {limit_s:.0f} s)\n")
                continue
            for name, value in registered.items():
                store.con.register(name, value)
            rule = owner.get(_key(sql, params))
            if rule is not None or sql.startswith('CREATE OR REPLACE TEMP TABLE "j"'):
                # a check reads its rule's shared tables (j, e, m): make them first
                for c in (
                    [rule]
                    if rule is not None
                    else [
                        c
                        for c in compiled.values()
                        if any(DUCKDB.render(q, pretty=False) in sql for _, q in c.common)
                    ][:1]
                ):
                    for name, query in c.common:
                        text = DUCKDB.render(query, pretty=False)
                        store.con.execute(
                            f'CREATE OR REPLACE TEMP TABLE "{name}" AS {text}',
                            params_in(text, c.all_params),
                        )
            body = sql.split(" AS ", 1)[1] if sql.startswith("CREATE OR REPLACE") else sql
            try:
                rows = store.con.execute("EXPLAIN ANALYZE " + body, params).fetchall()
            except duckdb.Error as exc:  # reads a table the evaluation made and dropped
                f.write(f"==== {label}: {seconds:.3f} s (not re-run: {str(exc).splitlines()[0]})\n")
                continue
            f.write(f"==== {label}: {seconds:.3f} s\n")
            for row in rows:
                f.write(str(row[-1]) + "\n")
            explained += 1
    return [(e[0], _label(e[1], e[2], checks)) for e in log]


def bench(size: int, args: argparse.Namespace) -> dict[str, object]:
    print(f"\n== {size:,} spans")
    path = Path(args.workdir) / f"scan-{size}.duckdb"
    generated = build_store(path, size, args.reuse)
    with DuckStore(path) as store:
        spans = store.span_count()
    db_mb = path.stat().st_size / 2**20
    print(f"  store {path} ({spans:,} spans, {db_mb:,.0f} MiB)")

    auditor_runs, hand_runs, logs = [], [], []
    found_a: set[Finding] = set()
    found_h: set[Finding] = set()
    evidence = not args.no_evidence
    failure = ""
    for round_ in range(args.rounds):
        seconds, found, log, failure = run_auditor(path, evidence, args.timeout)
        if failure:
            # what audit scan --db does did not finish: say so, then measure the rest of it
            print(f"  round {round_ + 1}: auditor with evidence {failure}", flush=True)
            evidence = False
            seconds, found, log, _ = run_auditor(path, evidence)
        found_a = found
        auditor_runs.append(seconds)
        logs.append(log)
        print(
            f"  round {round_ + 1}: auditor {seconds['total']:.2f} s (derive {seconds['derive']:.2f}, "
            f"rules {seconds['rules']:.2f}, evidence {seconds.get('evidence', 0):.2f}, "
            f"catalog {seconds['catalog']:.2f})",
            flush=True,
        )
        hand_s, found_h = run_hand(path)
        hand_runs.append(hand_s)
        print(f"  round {round_ + 1}: hand-written {hand_s:.2f} s", flush=True)

    best_a = min(auditor_runs, key=lambda s: s["total"])
    best_h = min(hand_runs)
    same = found_a == found_h
    print(f"  findings: auditor {len(found_a):,}, hand-written {len(found_h):,}; same: {same}")
    if not same:
        print(f"    only auditor: {sorted(found_a - found_h)[:8]}")
        print(f"    only hand-written: {sorted(found_h - found_a)[:8]}")
    if generated is not None:
        check_lies(found_a, generated.lies)
    print("  by kind:", dict(sorted(Counter(k for _, k, _, _ in found_a).items())))
    ratio = best_a["total"] / best_h
    core = (best_a["derive"] + best_a["rules"]) / best_h
    # Each round runs auditor then hand-written back to back: on a machine whose speed drifts
    # (a shared VM), the ratio within a round compares the two under the same conditions.
    paired = sorted(a["total"] / h for a, h in zip(auditor_runs, hand_runs, strict=True))
    median = statistics.median(paired)
    print(
        f"  best: auditor {best_a['total']:.2f} s, hand-written {best_h:.2f} s, "
        f"ratio {ratio:.2f}x (derive+rules only: {core:.2f}x); target <= {TARGET_RATIO}x"
        + ("" if evidence else " (auditor measured without evidence)")
    )
    print(
        f"  ratio within each round: median {median:.2f}x, "
        f"range {paired[0]:.2f}x-{paired[-1]:.2f}x over {len(paired)} rounds"
    )
    result: dict[str, object] = {
        "size": size, "spans": spans, "auditor": best_a, "hand": best_h, "ratio": ratio,
        "core_ratio": core, "paired_median": median, "paired": paired, "same": same,
        "findings": len(found_a), "failure": failure,
    }  # fmt: skip
    if args.explain or ratio > TARGET_RATIO:
        out = Path(args.workdir) / f"explain-{size}.txt"
        best_log = logs[auditor_runs.index(best_a)]
        timings = explain(path, best_log, out, args.explain_top, args.explain_limit)
        print(f"  slowest statements of the best auditor round, EXPLAIN ANALYZE in {out}:")
        for seconds, label in timings[: max(10, args.explain_top)]:
            print(f"    {seconds:7.3f} s  {label}")
        groups: Counter[str] = Counter()
        for seconds, label in timings:
            groups[
                label.split(" ")[0] if label.startswith(("derive", "evidence")) else "checks"
            ] += seconds
        print(
            f"    {len(timings)} statements: derive {groups['derive']:.2f} s, checks "
            f"{groups['checks']:.2f} s, evidence {groups['evidence:']:.2f} s"
        )
        result["timings"] = timings
    if not args.keep and generated is not None:
        path.unlink(missing_ok=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, action="append", help="store size (repeatable)")
    parser.add_argument(
        "--workdir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "auditor-bench-scan")
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="reuse a store from an earlier run")
    parser.add_argument(
        "--no-evidence", action="store_true", help="evaluate without evidence (derive + rules)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="interrupt an auditor round after this"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated store")
    parser.add_argument(
        "--explain", action="store_true", help="always show statements and EXPLAIN ANALYZE"
    )
    parser.add_argument("--explain-top", type=int, default=4, help="statements to EXPLAIN ANALYZE")
    parser.add_argument(
        "--explain-limit",
        type=float,
        default=60.0,
        help="do not re-run statements slower than this",
    )
    args = parser.parse_args()
    sizes = args.spans or [1_000_000]
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    print(
        f"scan benchmark: duckdb {duckdb.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    )
    results = [bench(size, args) for size in sizes]
    print("\nsize        auditor s  (derive  rules  evidence)  hand s  ratio  paired  same")
    for r in results:
        a = r["auditor"]
        print(
            f"{r['spans']:>10,}  {a['total']:8.2f}  ({a['derive']:6.2f} {a['rules']:6.2f} "
            f"{a.get('evidence', 0):8.2f})  {r['hand']:6.2f}  {r['ratio']:5.2f}x  "
            f"{r['paired_median']:5.2f}x  {r['same']}"
        )
        if r["failure"]:
            print(f"            auditor with evidence {r['failure']}")
    return 0 if all(r["same"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
