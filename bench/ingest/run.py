#!/usr/bin/env python3
"""End-to-end ingest benchmark: spans acknowledged per second by a real ``audit serve``.

    python bench/ingest/run.py [--seconds 20] [--clients 4] [--spans-per-request 512]

1. Builds a realistic job-traffic request (``traffic.py``: Celery / RQ / BullMQ shapes from
   the real captures) and checks that per-request bodies get unique ids, job ids and time slices.
2. Starts ``audit serve`` on a temporary store (free ports; default decode workers).
3. Drives it with ``--clients`` client *processes*, each on one keep-alive HTTP/1.1 connection,
   POSTing ``application/x-protobuf`` bodies made from the pre-encoded template by three byte
   replacements (~0.3 ms per 512-span body), so the clients' CPU stays small. A 429/503 is
   retried after its Retry-After; only 200s count.
4. Stops the server with SIGTERM (must exit 0) and verifies that the store holds exactly the
   acknowledged spans: the same requests, every span of each, nothing twice, nothing else.
5. Measures, in the same run, the decode-only rate in this process on one core
   (``decode_protobuf`` + ``to_arrow`` on fresh bodies of the same traffic): the baseline the
   end-to-end rate is compared with.

It prints the CPU time of the server (with its decode workers) and of the clients: the machine
has 2 cores, so what the clients burn is taken from the server. ``--profile FILE`` records the
server and its workers with py-spy (``pip install py-spy``) in collapsed-stack format.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import traffic  # noqa: E402

from bench.rows import Row  # noqa: E402

AUDIT = str(Path(sys.executable).with_name("audit"))
_LISTENING = re.compile(r"OTLP/HTTP on http://[^ ]+:(\d+)/v1/traces")


# ------------------------------------------------------------------------------ server


def start_server(workdir: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], int, Path]:
    db = workdir / "bench.duckdb"
    log = workdir / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [AUDIT, "serve", "--db", str(db), "--http-port", "0", "--grpc-port", "0", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 180  # a busy machine starts it slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"audit serve exited {process.returncode}:\n{log.read_text()}")
        match = _LISTENING.search(log.read_text())
        if match:
            port = int(match[1])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return process, port, db
            except OSError:
                pass
        time.sleep(0.05)
    process.kill()
    sys.exit(f"audit serve did not become healthy:\n{log.read_text()}")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """user+system CPU of every live process in group ``pgid`` (the server and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


# ------------------------------------------------------------------------------ clients


def client(
    index: int,
    clients: int,
    port: int,
    body_template: bytes,
    start_at: float,
    end_at: float,
    results: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-protobuf"}
    acked: list[tuple[int, float]] = []
    refused = errors = rejected = 0
    n = index + 1
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = time.process_time()
    while time.time() < end_at:
        body = traffic.body_for(body_template, n)
        try:
            conn.request("POST", "/v1/traces", body, headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n += clients  # its fate is unknown: never reuse its ids
            continue
        if response.status == 200:
            acked.append((n, time.time()))
            if answer:  # a partial success: there should be none
                rejected += 1
            n += clients
        elif response.status in (429, 503):
            refused += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
        else:
            errors += 1
            n += clients
    results.put(
        {
            "acked": acked,
            "refused": refused,
            "errors": errors,
            "partial": rejected,
            "cpu_s": time.process_time() - cpu0,
        }
    )


# ------------------------------------------------------------------------------ baseline


def decode_rate(body_template: bytes, spans_per_request: int, seconds: float) -> float:
    """Spans/s of decode_protobuf + to_arrow on fresh bodies, in this process (one core)."""
    from auditor.otlp.protobuf import decode_protobuf

    bodies = [traffic.body_for(body_template, 10_000_000 + i) for i in range(200)]
    decode_protobuf(bodies[0]).to_arrow()  # imports, first-call costs
    done = 0
    start = time.perf_counter()
    cpu0 = time.process_time()
    while time.perf_counter() - start < seconds:
        table = decode_protobuf(bodies[done % len(bodies)]).to_arrow()
        assert table.num_rows == spans_per_request
        done += 1
    # CPU time, not wall time: the baseline is one core's worth of decoding
    return done * spans_per_request / (time.process_time() - cpu0)


# ------------------------------------------------------------------------------ main


def _commit() -> str:
    """The checkout measured: short commit id, "+dirty" when auditor/ has local changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "../../auditor") else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="measured duration")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--spans-per-request", type=int, default=512)
    parser.add_argument("--warmup", type=float, default=2, help="seconds not counted at start")
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra audit serve arg")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the server")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    spr = args.spans_per_request

    body_template = traffic.template(spr)
    traffic.check(body_template, spr, [1, 2, 255, 256, 65_537, 16_777_219])
    print(
        f"traffic: {spr} spans per request, {len(body_template) / 1024:.0f} KiB per body, "
        f"{args.clients} client processes, {args.seconds:g} s measured after {args.warmup:g} s",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="auditor-bench-") as tmp:
        server, port, db = start_server(Path(tmp), args.serve_arg)
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(server.pid), "--subprocesses", "--format",
                 "raw", "--output", str(args.profile), "--duration",
                 str(int(args.warmup + args.seconds)), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        ctx = multiprocessing.get_context("fork")
        results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
        start_at = time.time() + 0.5
        measure_from = start_at + args.warmup
        end_at = measure_from + args.seconds
        server_cpu0 = group_cpu_seconds(server.pid)
        machine0 = machine_busy_seconds()
        procs = [
            ctx.Process(
                target=client,
                args=(i, args.clients, port, body_template, start_at, end_at, results),
            )
            for i in range(args.clients)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=args.warmup + args.seconds + 120) for _ in procs]
        for p in procs:
            p.join()
        server_cpu = group_cpu_seconds(server.pid) - server_cpu0
        machine_busy = machine_busy_seconds() - machine0
        wall = time.time() - start_at
        if profiler is not None:
            profiler.wait(timeout=60)

        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=120)
        if code != 0:
            print(f"audit serve exited {code} on SIGTERM", file=sys.stderr)
            return 1

        acked = sorted(n for o in outcomes for n, _ in o["acked"])
        in_window = sum(1 for o in outcomes for _, t in o["acked"] if measure_from <= t < end_at)
        rate = in_window * spr / args.seconds
        client_cpu = sum(o["cpu_s"] for o in outcomes)

        import duckdb

        con = duckdb.connect(str(db), read_only=True)
        rows, distinct = con.execute(
            'SELECT count(*), count(DISTINCT ("TraceId", "SpanId")) FROM otel_traces'
        ).fetchall()[0]
        per_request = con.execute(
            "SELECT CAST(('0x' || substr(\"TraceId\", 1, 8)) AS UBIGINT) AS n, count(*) "
            "FROM otel_traces GROUP BY n"
        ).fetchall()
        con.close()
    stored_requests = {int(n): c for n, c in per_request}
    exact = (
        rows == distinct == len(acked) * spr
        and sorted(stored_requests) == acked
        and set(stored_requests.values()) <= {spr}
    )

    print("decode-only baseline (this process, one core) …", flush=True)
    baseline = decode_rate(body_template, spr, args.baseline_seconds)

    result = {
        "date": time.strftime("%Y-%m-%d"),
        "commit": _commit(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "clients": args.clients,
        "spans_per_request": spr,
        "seconds": args.seconds,
        "acknowledged_spans_per_s": round(rate),
        "acknowledged_spans": len(acked) * spr,
        "refused_429_503": sum(o["refused"] for o in outcomes),
        "errors": sum(o["errors"] for o in outcomes),
        "partial_successes": sum(o["partial"] for o in outcomes),
        "store_exact": exact,
        "stored_spans": rows,
        "decode_only_spans_per_s": round(baseline),
        "ratio": round(rate / baseline, 2),
        "server_cpu_s": round(server_cpu, 1),
        "server_cores_used": round(server_cpu / wall, 2),
        "client_cpu_s": round(client_cpu, 1),
        "client_cores_used": round(client_cpu / wall, 2),
        # everything else on the machine during the run (other users' work, the OS)
        "other_cores_used": round(max(0.0, machine_busy - server_cpu - client_cpu) / wall, 2),
    }
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if not exact:
        print("FAIL: the store does not hold exactly the acknowledged spans", file=sys.stderr)
        return 1
    return 0


TARGET_SPANS_PER_S = 60_000


def rows(quick: bool) -> list[Row]:
    """For ``python -m bench``: 32 clients for 20 s (quick: 2 clients, 2 s)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ingest.json"
        sizes = ["--clients", "2", "--seconds", "2", "--warmup", "0.5", "--baseline-seconds", "1"]
        if not quick:
            sizes = ["--clients", "32", "--seconds", "20"]
        if main([*sizes, "--json", str(out)]) != 0:
            raise SystemExit("the ingest benchmark failed (see above)")
        result = json.loads(out.read_text())
    rate = result["acknowledged_spans_per_s"]
    return [
        Row(
            f"ingest: spans acknowledged/s end to end ({result['clients']} clients)",
            rate, "spans/s", f">= {TARGET_SPANS_PER_S:,}", result["decode_only_spans_per_s"],
            "decode only, one core", None if quick else rate >= TARGET_SPANS_PER_S,
        )
    ]  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
