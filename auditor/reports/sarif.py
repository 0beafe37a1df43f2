"""``--format sarif``: a SARIF 2.1.0 log for GitHub code scanning and other SARIF viewers.

Pure: ``render(report)`` returns the JSON text (keys in a fixed order, two-space indent,
ASCII, one trailing newline). A test validates the output against the OASIS SARIF 2.1.0 JSON schema.

The shape, and why:

- One run; ``tool.driver`` is auditor with every rule of the report (plus a stand-in for any
  rule only a finding names), sorted by id so ``ruleIndex`` is stable.
- A rule carries ``shortDescription`` (its title), ``fullDescription`` (its description, or
  the title), ``help`` and ``helpUri`` (the runbook, when set), ``defaultConfiguration.level``
  from its severity, and ``properties``: ``tags`` (the finding kinds it raised in this report
  and its labels as ``key:value``), ``problem.severity`` (error / warning / recommendation,
  the GitHub code-scanning property) and the auditor severity. ``security-severity`` is not
  set on purpose: these are reliability findings, not vulnerabilities.
- A result's ``level`` follows the finding's severity (critical/high → error, medium →
  warning, low/info → note); ``partialFingerprints["auditorFingerprint/v1"]`` is the finding
  fingerprint, so code scanning tracks one alert across runs exactly as ``--baseline`` does;
  ``properties`` holds the finding's subject (kind, system, job, trace, effect key, state).
- Code scanning rejects results without a physical location, but a finding lives in spans,
  not in source. The location is therefore the rule that raised it: its file and line
  (``RuleInfo.source``/``line``; relative paths stay relative to the repository root,
  absolute ones — built-in rules inside an installed package — become ``file://`` URIs).
  A rule with no source points at the first scanned input, line 1. Every result also has a
  ``logicalLocation`` naming the job (or the effect key), which is the real subject.
- Findings triaged ``false_positive`` or ``muted`` carry an accepted external suppression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from auditor.findings.model import Finding, RuleInfo, Severity, Triage
from auditor.findings.report import Report
from auditor.reports import common

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# No public home page is declared in pyproject.toml yet ([project.urls]); the driver's
# informationUri is left out until there is one rather than pointing at a made-up address.
INFORMATION_URI = ""
FINGERPRINT_KEY = "auditorFingerprint/v1"
# Used as the artifact when neither the rule nor the report names a file.
FALLBACK_URI = "audit.yaml"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning's rule property: error | warning | recommendation.
PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}


def _rule_name(rule_id: str) -> str:
    """SARIF wants a rule name that is an identifier: ``notify-email.ok`` → ``NotifyEmailOk``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id))


def _uri(path: str) -> str:
    if PureWindowsPath(path).drive:
        return PureWindowsPath(path).as_uri()
    if PurePosixPath(path).is_absolute():
        return PurePosixPath(path).as_uri()
    return path


def _rule_descriptor(rule: RuleInfo, kinds: set[str]) -> dict[str, Any]:
    level = LEVELS[rule.severity]
    title = rule.title or rule.id
    tags = sorted(kinds) + [f"{k}:{v}" for k, v in sorted(rule.labels)]
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _rule_name(rule.id),
        "shortDescription": {"text": title},
        "fullDescription": {"text": rule.description or title},
        "defaultConfiguration": {"level": level},
        "properties": {
            "tags": tags,
            "problem.severity": PROBLEM_SEVERITY[level],
            "severity": str(rule.severity),
        },
    }
    help_text = rule.description or title
    if rule.runbook:
        descriptor["helpUri"] = rule.runbook
        descriptor["help"] = {
            "text": f"{help_text}\nRunbook: {rule.runbook}",
            "markdown": f"{help_text}\n\n[Runbook]({rule.runbook})",
        }
    else:
        descriptor["help"] = {"text": help_text}
    return descriptor


def _logical_location(f: Finding) -> dict[str, Any]:
    if f.job_id or f.job_name:
        return {
            "name": f.job_name or f.job_id,
            "fullyQualifiedName": "/".join(p for p in (f.system, f.job_name, f.job_id) if p),
            "kind": "function",
        }
    return {
        "name": f.effect_key,
        "fullyQualifiedName": "/".join(p for p in (f.system, f.effect_name, f.effect_key) if p),
        "kind": "object",
    }


def _location(report: Report, rule: RuleInfo, f: Finding) -> dict[str, Any]:
    path = common.rule_path(rule)
    line = rule.line if path and rule.line > 0 else 1
    if not path:
        path = report.inputs[0] if report.inputs else FALLBACK_URI
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(path)},
            "region": {"startLine": line},
        },
        "logicalLocations": [_logical_location(f)],
    }


def _result(report: Report, rule: RuleInfo, index: int, f: Finding) -> dict[str, Any]:
    text = f"{f.message} ({common.job_label(f)}"
    text += f", trace {f.trace_id})" if f.trace_id else ")"
    properties: dict[str, Any] = {
        "kind": str(f.kind),
        "severity": str(f.severity),
        "state": str(f.state),
        "system": f.system,
        "job_id": f.job_id,
        "job_name": f.job_name,
        "trace_id": f.trace_id,
        "effect_key": f.effect_key,
    }
    if f.labels:
        properties["labels"] = dict(f.labels)
    result: dict[str, Any] = {
        "ruleId": rule.id,
        "ruleIndex": index,
        "level": LEVELS[f.severity],
        "message": {"text": text},
        "locations": [_location(report, rule, f)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": properties,
    }
    if f.triage in (Triage.FALSE_POSITIVE, Triage.MUTED):
        result["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": str(f.triage)}
        ]
    return result


_RESULTS = "\u0000results\u0000"  # where write() puts the streamed results
_INDENT = " " * 8  # a result's indent inside {"runs": [{"results": [ … ]}]}
BATCH = 2048  # results encoded per write


def document(report: Report, *, results: bool = True) -> dict[str, Any]:
    """The SARIF log as a dict (``results=False``: a marker where the results go)."""
    rules = common.all_rules(report)
    kinds: dict[str, set[str]] = {r.id: set() for r in rules}
    pairs = report.table.table.group_by(["rule_id", "kind"]).aggregate([]).to_pylist()
    for pair in pairs:
        kinds[pair["rule_id"]].add(pair["kind"])

    driver: dict[str, Any] = {
        "name": common.TOOL_NAME,
        "version": common.tool_version(report),
        "rules": [_rule_descriptor(r, kinds[r.id]) for r in rules],
    }
    if INFORMATION_URI:
        driver["informationUri"] = INFORMATION_URI
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": driver},
                "results": list(_results(report, rules)) if results else _RESULTS,
                "columnKind": "unicodeCodePoints",
                "properties": {"summary": report.summary()},
            }
        ],
    }


def _results(report: Report, rules: list[RuleInfo]) -> Iterator[dict[str, Any]]:
    index = {r.id: i for i, r in enumerate(rules)}
    by_id = {r.id: r for r in rules}
    for f in common.ordered(report.findings):
        yield _result(report, by_id[f.rule_id], index[f.rule_id], f)


def write(report: Report, out: Callable[[str], object]) -> None:
    """The log through ``out``, its results encoded a batch at a time (the same text as
    ``render``): memory is bounded by a batch of results, not by the findings."""
    head, tail = json.dumps(document(report, results=False), indent=2).split(
        json.dumps(_RESULTS), 1
    )
    out(head)
    if not len(report.findings):
        out("[]")
    else:
        batch: list[str] = []
        first = True
        for result in _results(report, common.all_rules(report)):
            batch.append(_INDENT + json.dumps(result, indent=2).replace("\n", "\n" + _INDENT))
            if len(batch) == BATCH:
                out(("[\n" if first else ",\n") + ",\n".join(batch))
                first, batch = False, []
        if batch:
            out(("[\n" if first else ",\n") + ",\n".join(batch))
        out("\n      ]")
    out(tail + "\n")


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2) + "\n"
