"""Helpers for tests that drive ``audit scan`` and the engine through their public seams.

- ``scan(args, tmp_path)`` runs ``audit scan`` in-process through the console entry point
  (``auditor.cli.main.main``) with ``--format json --output``, and returns the exit code and
  the parsed report;
- ``ground_truth(system)`` reads a real capture's ``ground_truth.json`` into the set of
  (job_id, kind) pairs a scan must report;
- ``store_with_spans(spans)`` loads compact spans (the notation of ``auditor.rules.testing``)
  or span files into an in-memory store, the way ``audit scan`` and ``audit rules test`` do;
- ``derived(store, profiles)`` fills the derived tables and reads them back as dicts.

Nothing here imitates product code: every call goes through the CLI, the file receiver, the
store's insert path, or the engine.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.cli.main import main
from auditor.engine.derive import derive
from auditor.otlp.otlpjson import decode_json_object
from auditor.profiles.model import Profile
from auditor.receivers.files import ingest_files
from auditor.rules.testing import spans_to_request
from auditor.store.duck import DuckStore

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data"
CAPTURES = DATA / "captures"
SCAN_RULES = DATA / "rules" / "scan"
FIXTURES = DATA / "fixtures"
SYSTEMS = ("celery", "rq", "bullmq")

Pair = tuple[str, str]  # (job_id, kind)


@dataclass(frozen=True)
class ScanResult:
    code: int
    report: dict[str, Any]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return self.report["findings"]

    def pairs(self, rule_id: str | None = None) -> set[Pair]:
        return {
            (f["job_id"], f["kind"])
            for f in self.findings
            if rule_id is None or f["rule_id"] == rule_id
        }

    def by_rule(self) -> dict[str, set[Pair]]:
        out: dict[str, set[Pair]] = {}
        for f in self.findings:
            out.setdefault(f["rule_id"], set()).add((f["job_id"], f["kind"]))
        return out


def scan(args: Sequence[str | Path], tmp_path: Path, name: str = "report.json") -> ScanResult:
    """``audit scan ARGS --format json --output FILE``, in-process; the parsed report."""
    output = tmp_path / name
    output.unlink(missing_ok=True)
    code = main(["scan", *map(str, args), "--format", "json", "--output", str(output)])
    report = json.loads(output.read_text(encoding="utf-8")) if output.exists() else {}
    return ScanResult(code, report)


_CACHE: dict[tuple[str, ...], ScanResult] = {}


def scan_once(args: Sequence[str | Path]) -> ScanResult:
    """``scan(args)``, run once per distinct ``args`` in a test session: several tests assert
    different things about the same scan (a scan costs about half a second)."""
    key = tuple(map(str, args))
    if key not in _CACHE:
        with tempfile.TemporaryDirectory() as tmp:
            _CACHE[key] = scan(args, Path(tmp))
    return _CACHE[key]


def capture(system: str) -> Path:
    return CAPTURES / system / "traces.jsonl"


def ground_truth_entries(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def ground_truth(system: str) -> set[Pair]:
    """The (job_id, kind) pairs of a capture's lying jobs."""
    return pairs_of(ground_truth_entries(CAPTURES / system / "ground_truth.json"))


def pairs_of(entries: Iterable[Mapping[str, Any]]) -> set[Pair]:
    return {(e["job_id"], e["expected_kind"]) for e in entries if e["expected_kind"]}


def precision_recall(found: set[Pair], truth: set[Pair]) -> tuple[float, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def store_with_spans(
    spans: Sequence[Mapping[str, Any]] = (), files: Sequence[Path] = ()
) -> DuckStore:
    """An in-memory store holding compact ``spans`` and the span ``files``."""
    store = DuckStore(":memory:")
    if spans:
        batch = decode_json_object(spans_to_request(list(spans)))
        assert batch.rejected == 0, batch.error_message()
        store.insert(batch.to_arrow())
    if files:
        summary = ingest_files(store, [str(f) for f in files])
        assert not summary.bad_lines and not summary.spans_rejected, summary.problems
    return store


def derived(store: DuckStore, profiles: Iterable[Profile]) -> dict[str, list[dict[str, Any]]]:
    """Derive the narrow tables and return every row of each, as dicts."""
    derive(store.con, profiles)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name in ("job_runs", "enqueues", "effects", "signals", "error_spans"):
        cursor = store.con.execute(f'SELECT * FROM "{name}"')
        columns = [d[0] for d in cursor.description or ()]
        tables[name] = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return tables


def load_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))
