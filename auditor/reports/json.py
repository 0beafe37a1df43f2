"""``--format json``: exactly one JSON object, ``{"findings": [...], "summary": {...}}``.

The user-facing contract of docs/design.md ("The CLI"): each finding is ``Finding.to_dict()`` (so
at least ``rule_id, kind, severity, state, system, job_id, job_name, effect_key, trace_id,
fingerprint, message``; fields are added, never renamed), and the summary is
``Report.summary()`` plus ``"tool": {"name": "auditor", "version": ...}``.

Pure and deterministic: findings in report order, one finding per line (compact, keys in the
order of the model), the summary indented by two spaces, ASCII-only (non-ASCII escaped, so
any stdout encoding can carry it), one trailing newline. Scripts read it with ``jq``; nothing
else is ever printed to stdout around it.

The findings are not turned into Python objects: each row of the report's ``FindingTable``
carries its JSON text (written by the engine's SQL), and the texts of a batch of rows are
joined by Arrow. ``write`` streams batch by batch, so memory is bounded by a batch.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from auditor.findings.report import Report
from auditor.reports import common

_SEPARATOR = ",\n    "
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _ascii(text: str) -> str:
    if text.isascii():
        return text
    return _NON_ASCII.sub(lambda m: json.dumps(m.group())[1:-1], text)


def _joined(texts: pa.Array) -> str:
    one = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
    return str(pc.binary_join(one, _SEPARATOR)[0].as_py())


def summary_document(report: Report) -> dict[str, Any]:
    summary = report.summary()
    summary["tool"] = {"name": common.TOOL_NAME, "version": common.tool_version(report)}
    return summary


def write(report: Report, out: Callable[[str], object]) -> None:
    """Write the document through ``out`` (``file.write``), a batch of findings at a time."""
    first = True
    for texts in report.table.json_batches():
        out(('{\n  "findings": [\n    ' if first else _SEPARATOR) + _ascii(_joined(texts)))
        first = False
    out('{\n  "findings": [],' if first else "\n  ],")
    summary = json.dumps(summary_document(report), indent=2).replace("\n", "\n  ")
    out(f'\n  "summary": {summary}\n}}\n')


def document(report: Report) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(render(report))
    return parsed


def render(report: Report) -> str:
    buffer = io.StringIO()
    write(report, buffer.write)
    return buffer.getvalue()
