"""Baseline files: the findings a team has accepted, so ``audit scan`` reports only new ones.

Pure: text in, text out. The CLI reads and writes the file (``--baseline FILE``,
``--write-baseline FILE``) and passes the text here; nothing here touches the file system.

The file is JSON, sorted and stable so it diffs well in review::

    {"version": 1,
     "fingerprints": [{"fingerprint": "…", "rule_id": "…", "kind": "…",
                       "job_id": "…", "effect_key": "…"}, …]}

Only ``fingerprint`` decides whether a finding is accepted (the same stable identity SARIF's
``partialFingerprints`` carry); the other fields are there for the person reading the file.
A malformed file is an ``InputError`` (exit 3) whose message names the file and every
problem found, never a traceback; unknown keys are problems too, with the nearest known key
suggested, so a hand-edited typo is not silently ignored.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import Any

from auditor.errors import InputError
from auditor.findings.model import Finding
from auditor.findings.table import FindingTable

VERSION = 1
TOP_KEYS = ("version", "fingerprints")
ENTRY_KEYS = ("fingerprint", "rule_id", "kind", "job_id", "effect_key")
# At most this many problems are listed in one error; the rest are counted.
MAX_PROBLEMS = 5


def write_baseline(findings: Iterable[Finding]) -> str:
    """The baseline text accepting ``findings``: one entry per fingerprint, sorted."""
    entries: dict[str, dict[str, str]] = {}
    for row in FindingTable.of(findings).table.select(list(ENTRY_KEYS)).to_pylist():
        entries.setdefault(row["fingerprint"], row)
    document = {"version": VERSION, "fingerprints": [entries[k] for k in sorted(entries)]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _unknown_key(where: str, key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (expected {', '.join(known)})"
    return f"{where}unknown key {key!r}{hint}"


def _entry_problems(i: int, entry: Any) -> list[str]:
    where = f"fingerprints[{i}]: "
    if isinstance(entry, str):
        return [] if entry else [f"{where}empty fingerprint"]
    if not isinstance(entry, dict):
        return [f"{where}expected an object with a 'fingerprint', got {_type(entry)}"]
    problems = [_unknown_key(where, k, ENTRY_KEYS) for k in entry if k not in ENTRY_KEYS]
    fp = entry.get("fingerprint")
    if fp is None:
        problems.insert(0, f"{where}missing 'fingerprint'")
    elif not isinstance(fp, str) or not fp:
        problems.insert(0, f"{where}'fingerprint' must be a non-empty string, got {_type(fp)}")
    for key in ENTRY_KEYS[1:]:
        if key in entry and not isinstance(entry[key], str):
            problems.append(f"{where}{key!r} must be a string, got {_type(entry[key])}")
    return problems


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


def read_baseline(text: str, filename: str) -> frozenset[str]:
    """The accepted fingerprints in a baseline file's text.

    Entries are objects as written by ``write_baseline``; a bare fingerprint string is also
    accepted, for hand-written baselines. Raises ``InputError`` naming ``filename`` and the
    problems when the text is not a version-1 baseline.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{filename}:{e.lineno}:{e.colno}: baseline is not valid JSON: {e.msg}"
        ) from None

    if not isinstance(document, dict):
        raise InputError(
            f"{filename}: a baseline is a JSON object with 'version' and 'fingerprints', "
            f"got {_type(document)}"
        )
    problems = [_unknown_key("", k, TOP_KEYS) for k in document if k not in TOP_KEYS]
    version = document.get("version")
    if version is None:
        problems.append("missing 'version' (expected 1)")
    elif version != VERSION or isinstance(version, bool):
        problems.append(
            f"unsupported version {json.dumps(version)}; this auditor reads version {VERSION}"
        )
    entries = document.get("fingerprints")
    if entries is None:
        problems.append("missing 'fingerprints' (a list; it may be empty)")
    elif not isinstance(entries, list):
        problems.append(f"'fingerprints' must be a list, got {_type(entries)}")
    else:
        for i, entry in enumerate(entries):
            problems += _entry_problems(i, entry)

    if problems:
        shown = "; ".join(problems[:MAX_PROBLEMS])
        if len(problems) > MAX_PROBLEMS:
            shown += f"; and {len(problems) - MAX_PROBLEMS} more"
        raise InputError(f"{filename}: invalid baseline: {shown}")
    assert isinstance(entries, list)
    return frozenset(e if isinstance(e, str) else e["fingerprint"] for e in entries)
