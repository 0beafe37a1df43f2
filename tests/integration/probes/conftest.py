"""Helpers for the reconciler tests: run ``audit`` (with ``probe`` registered) in a subprocess,
and read the confirmation spans a store holds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

# main.py registers ``probe`` itself once it is wired; until then the tests register it here.
_AUDIT = """
import sys
from auditor.cli import main, probe
if not any(group.name == "probe" for group in main.app.registered_groups):
    probe.register(main.app)
sys.exit(main.main(sys.argv[1:]))
"""


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def audit(*argv: str, cwd: Path | None = None, timeout: float = 60.0) -> Result:
    out = subprocess.run(
        [sys.executable, "-c", _AUDIT, *argv],
        cwd=cwd or REPO_ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return Result(out.returncode, out.stdout, out.stderr)


def confirmations(db: Path) -> list[dict]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            'SELECT "TraceId", "SpanId", "SpanAttributes", "StatusCode", "Timestamp" '
            'FROM otel_traces WHERE "SpanName" = \'side_effect.confirm\' ORDER BY "Timestamp"'
        ).fetchall()
    finally:
        con.close()
    return [
        {"trace_id": t, "span_id": s, "attributes": json.loads(a), "status": st, "start": ts}
        for t, s, a, st, ts in rows
    ]
