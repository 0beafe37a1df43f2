"""``audit demo``'s data: real Celery, RQ and BullMQ traffic, replayed as a day of jobs.

The captures under ``captures/`` were recorded from real workers with their own, unmodified
OpenTelemetry instrumentation (the same files the test suite's ground truth describes): each
holds honest jobs (sent, retried then sent, failed visibly) and lying ones (done without the
email, a swallowed SMTP failure, done before the send finished, a retry that sent twice, a
crash that lost the job). ``demo_lines`` replays each capture ``copies`` times, spread over
the last day: every copy gets fresh trace and span ids, its own job ids and order keys, and
its times moved, so the copies are distinct jobs with the shapes of the real ones.

Pure: bytes of the packaged captures in, OTLP JSON lines out; ``auditor.cli.tui`` writes them
and builds the store.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

SYSTEMS = ("celery", "rq", "bullmq")
_TIME_KEYS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano")
_ID_KEYS = ("traceId", "spanId", "parentSpanId")
DAY_NS = 86400 * 10**9


def rules_path() -> Path:
    """The demo's rule file (inside the package, so an installed wheel has it)."""
    return Path(str(resources.files(__name__).joinpath("rules.yaml")))


def _capture(system: str) -> tuple[list[dict[str, Any]], set[str]]:
    folder = resources.files(__name__).joinpath("captures")
    raw = gzip.decompress(folder.joinpath(f"{system}.jsonl.gz").read_bytes()).decode()
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    ids = json.loads(folder.joinpath(f"{system}.ids.json").read_text())
    names = {e["job_id"] for e in ids} | {e["effect_key"] for e in ids if e["effect_key"]}
    return lines, names


def _times(node: Any, found: list[int]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIME_KEYS and value:
                found.append(int(value))
            else:
                _times(value, found)
    elif isinstance(node, list):
        for item in node:
            _times(item, found)


def _fresh(value: str, copy: int) -> str:
    """A copy's own job id or key: a long id (a UUID, hex) keeps its shape with other hex
    digits, so copies differ where a table shows them (their first characters); a short key
    (an order number) gets the copy's number."""
    if len(value) < 16:
        return f"{value}-{copy}"
    digest = iter(hashlib.sha256(f"{copy}:{value}".encode()).hexdigest() * 2)
    return "".join(next(digest) if c in "0123456789abcdef" else c for c in value)


def _rewrite(node: Any, copy: int, shift: int, names: set[str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _TIME_KEYS and value:
                out[key] = str(int(value) + shift)
            elif key in _ID_KEYS and isinstance(value, str) and value:
                digest = hashlib.sha256(f"{copy}:{value}".encode()).hexdigest()
                out[key] = digest[: len(value)]
            elif key == "stringValue" and value in names:
                out[key] = _fresh(value, copy)
            else:
                out[key] = _rewrite(value, copy, shift, names)
        return out
    if isinstance(node, list):
        return [_rewrite(item, copy, shift, names) for item in node]
    return node


def demo_lines(now_ns: int, copies: int = 8) -> Iterator[str]:
    """OTLP JSON lines: each capture ``copies`` times, the newest copy ending a few minutes
    before ``now_ns`` and the others spread back over the day before."""
    for index, system in enumerate(SYSTEMS):
        lines, names = _capture(system)
        found: list[int] = []
        _times(lines, found)
        last = max(found)
        for copy in range(copies):
            # newest first; systems interleaved so the day has traffic of all three
            back = (copy * DAY_NS) // copies + index * 7 * 60 * 10**9 + 10 * 60 * 10**9
            shift = now_ns - back - last
            for line in lines:
                yield json.dumps(_rewrite(line, copy, shift, names), separators=(",", ":"))
