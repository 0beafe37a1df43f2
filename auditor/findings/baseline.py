"""Baseline files: the findings a team has accepted, so ``audit scan`` reports only new ones.

Pure: text in, text out (and an Arrow filter). The CLI reads and writes the file
(``--baseline FILE``, ``--write-baseline FILE``) and passes the text here.

A finding is matched by an identity that survives runs: rule, kind, system, job name, effect
name and effect key — never the job id, which is new on every CI run. Several findings can
share one identity (three lost ``tasks.charge`` jobs), so each entry carries a ``count``: that
many findings of the identity are accepted, and a run with more reports the extra ones (the
last in report order). The file is JSON, sorted and stable so it diffs well in review::

    {"version": 2,
     "findings": [{"rule_id": "…", "kind": "…", "system": "…", "job_name": "…",
                   "effect_name": "…", "effect_key": "…", "count": 1}, …]}

A version-1 file (``"fingerprints"``: per-job fingerprints, or bare fingerprint strings) is
still read; its entries match by fingerprint. A malformed file is a usage error (exit 2)
whose message names the file and every problem found, never a traceback; unknown keys are
problems too, with the nearest known key suggested, so a hand-edited typo is not silently
ignored.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from auditor.errors import UsageError
from auditor.findings.model import Finding
from auditor.findings.table import FindingTable

VERSION = 2
IDENTITY = ("rule_id", "kind", "system", "job_name", "effect_name", "effect_key")
TOP_KEYS = ("version", "findings", "fingerprints")
ENTRY_KEYS = (*IDENTITY, "count")
V1_ENTRY_KEYS = ("fingerprint", "rule_id", "kind", "job_id", "effect_key")
# At most this many problems are listed in one error; the rest are counted.
MAX_PROBLEMS = 5

Identity = tuple[str, ...]


@dataclass(frozen=True)
class Baseline:
    identities: dict[Identity, int] = field(default_factory=dict)  # identity -> accepted count
    fingerprints: frozenset[str] = frozenset()  # version-1 entries

    def __bool__(self) -> bool:
        return bool(self.identities or self.fingerprints)


def _identities(table: FindingTable) -> list[Identity]:
    columns = [table.table.column(name).to_pylist() for name in IDENTITY]
    return list(zip(*columns, strict=True)) if columns and columns[0] else []


def write_baseline(findings: Iterable[Finding]) -> str:
    """The baseline text accepting ``findings``: one entry per identity, with its count."""
    counts = Counter(_identities(FindingTable.of(findings)))
    entries = [
        {**dict(zip(IDENTITY, identity, strict=True)), "count": n}
        for identity, n in sorted(counts.items())
    ]
    document = {"version": VERSION, "findings": entries}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def apply_baseline(findings: FindingTable, baseline: Baseline) -> tuple[FindingTable, int]:
    """The findings the baseline does not accept, and how many it accepted."""
    if not baseline or not len(findings):
        return findings, 0
    left = dict(baseline.identities)
    fingerprints = findings.table.column("fingerprint").to_pylist()
    keep = []
    for identity, fp in zip(_identities(findings), fingerprints, strict=True):
        if fp in baseline.fingerprints:
            keep.append(False)
        elif left.get(identity, 0) > 0:
            left[identity] -= 1
            keep.append(False)
        else:
            keep.append(True)
    kept = findings.select(pa.array(keep, pa.bool_()))
    return kept, len(findings) - len(kept)


def _unknown_key(where: str, key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (expected {', '.join(known)})"
    return f"{where}unknown key {key!r}{hint}"


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _v1_problems(i: int, entry: Any) -> list[str]:
    where = f"fingerprints[{i}]: "
    if isinstance(entry, str):
        return [] if entry else [f"{where}empty fingerprint"]
    if not isinstance(entry, dict):
        return [f"{where}expected an object or a fingerprint string, got {_type(entry)}"]
    problems = [_unknown_key(where, k, V1_ENTRY_KEYS) for k in entry if k not in V1_ENTRY_KEYS]
    fp = entry.get("fingerprint")
    if fp is None:
        problems.insert(0, f"{where}missing 'fingerprint'")
    elif not isinstance(fp, str) or not fp:
        problems.insert(0, f"{where}'fingerprint' must be a non-empty string, got {_type(fp)}")
    for key in V1_ENTRY_KEYS[1:]:
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{where}{key!r} must be a string, got {_type(entry[key])}")
    return problems


def _entry_problems(i: int, entry: Any) -> list[str]:
    where = f"findings[{i}]: "
    if not isinstance(entry, dict):
        return [f"{where}expected an object, got {_type(entry)}"]
    problems = [_unknown_key(where, k, ENTRY_KEYS) for k in entry if k not in ENTRY_KEYS]
    for key in ("rule_id", "kind"):
        if key not in entry:
            problems.append(f"{where}missing {key!r}")
    for key in IDENTITY:
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{where}{key!r} must be a string, got {_type(entry[key])}")
    count = entry.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        problems.append(f"{where}'count' must be a whole number of at least 1, got {count!r}")
    return problems


def read_baseline(text: str, filename: str) -> Baseline:
    """The findings a baseline file's text accepts. Raises ``UsageError`` naming
    ``filename`` and the problems when the text is not a baseline."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(
            f"{filename}:{e.lineno}:{e.colno}: baseline is not valid JSON: {e.msg}"
        ) from None

    if not isinstance(document, dict):
        raise UsageError(
            f"{filename}: a baseline is a JSON object with 'version' and 'findings', "
            f"got {_type(document)}"
        )
    problems = [_unknown_key("", k, TOP_KEYS) for k in document if k not in TOP_KEYS]
    version = document.get("version")
    key = "fingerprints" if version == 1 else "findings"
    if version is None:
        problems.append(f"missing 'version' (expected {VERSION})")
    elif version not in (1, VERSION) or isinstance(version, bool):
        problems.append(
            f"unsupported version {json.dumps(version)}; this auditor reads versions 1 and "
            f"{VERSION}"
        )
    entries = document.get(key)
    check = _v1_problems if key == "fingerprints" else _entry_problems
    if entries is None:
        problems.append(f"missing {key!r} (a list; it may be empty)")
    elif not isinstance(entries, list):
        problems.append(f"{key!r} must be a list, got {_type(entries)}")
    else:
        for i, entry in enumerate(entries):
            problems += check(i, entry)

    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS])
        if len(problems) > MAX_PROBLEMS:
            shown += f"; and {len(problems) - MAX_PROBLEMS} more"
        raise UsageError(f"{filename}: invalid baseline: {shown}")
    assert isinstance(entries, list)
    if key == "fingerprints":
        return Baseline(
            fingerprints=frozenset(e if isinstance(e, str) else e["fingerprint"] for e in entries)
        )
    identities: Counter[Identity] = Counter()
    for entry in entries:
        identities[tuple(entry.get(k, "") for k in IDENTITY)] += entry.get("count", 1)
    return Baseline(identities=dict(identities))
