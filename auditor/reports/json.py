"""``--format json``: exactly one JSON object, ``{"findings": [...], "summary": {...}}``.

The user-facing contract of DESIGN.md ("The CLI"): each finding is ``Finding.to_dict()`` (so
at least ``rule_id, kind, severity, state, system, job_id, job_name, effect_key, trace_id,
fingerprint, message``; fields are added, never renamed), and the summary is
``Report.summary()`` plus ``"tool": {"name": "auditor", "version": ...}``.

Pure and deterministic: findings in ``common.ordered`` order, keys in the order of the model
(``Finding`` fields, then ``summary()``'s own order — severities most severe first), two-space
indent, ASCII-only (non-ASCII escaped, so any stdout encoding can carry it), one trailing newline.
Scripts read it with ``jq``; nothing else is ever printed to stdout around it.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.findings.report import Report
from auditor.reports import common


def document(report: Report) -> dict[str, Any]:
    summary = report.summary()
    summary["tool"] = {"name": common.TOOL_NAME, "version": common.tool_version(report)}
    return {
        "findings": [f.to_dict() for f in common.ordered(report.findings)],
        "summary": summary,
    }


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2) + "\n"
