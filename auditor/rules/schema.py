"""The JSON Schema of a rule file, and the words its error messages use.

Owns the structural half of the rule-file contract in docs/design.md ("The rule file"): which keys
exist at every level, their types, enums, patterns and defaults, with descriptions for
editors (``audit rules schema`` publishes ``rule_file_schema()``; yaml-language-server and
VS Code read ``description``, ``default`` and ``patternErrorMessage``). Unknown keys are
errors at every level (``additionalProperties: false``).

The semantic half (``where:`` is a pure SQL condition, ``key:`` only with ``correlate: key``,
rule ids unique across files, durations parse) is checked by ``auditor.rules.build``; this
schema states those rules in descriptions so that editors show them.

``x-expected`` and ``x-messages`` are this project's annotations, read by
``auditor.yamlloc.validate`` to word errors for rule authors; other tools ignore them.

System profiles (``systems:``) are defined elsewhere: pass their schema as
``rule_file_schema(system_schema=…)``. Until then any mapping is accepted there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from auditor.findings.model import Severity
from auditor.rules.durations import DURATION_EXPECTED, DURATION_PATTERN
from auditor.rules.model import Check
from auditor.yamlloc import Path, Vocabulary

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
SEVERITIES: tuple[str, ...] = tuple(s.value for s in Severity)
_EXPECT_CHECKS = [str(check) for check in Check if check.expects]
SPAN_KINDS: tuple[str, ...] = ("internal", "server", "client", "producer", "consumer")
SPAN_STATUSES: tuple[str, ...] = ("ok", "error", "unset")
CORRELATIONS: tuple[str, ...] = ("trace", "link", "key")
DEFAULT_TOLERANCE = "2ms"

# Accepted until the profile loader plugs in its own schema.
ANY_SYSTEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A job system profile (see rules/systems/). Its keys are defined by the "
    "profile loader.",
}

_DURATION_DOC = (
    "A duration: 500ms, 90s, 5m, 2h, 1d, or parts summed (1h30m); a plain number is seconds."
)
_DURATION: dict[str, Any] = {
    "type": ["string", "number"],
    "pattern": DURATION_PATTERN,
    "minimum": 0,
    "x-expected": DURATION_EXPECTED,
    "patternErrorMessage": "a duration like 90s, 5m, 2h, 1d, 500ms or 1h30m",
    "description": _DURATION_DOC,
}

_ATTRIBUTES_DOC = (
    "Attribute equality matches, all of which must hold. Values are compared as text, as the "
    'store keeps them: 250 matches "250", true matches "true".'
)
_ATTRIBUTES: dict[str, Any] = {
    "type": "object",
    "description": _ATTRIBUTES_DOC,
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}

_WHERE: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "Escape hatch: one pure SQL boolean expression (DuckDB syntax) added to the "
    "selector. No statements, subqueries, ';', placeholders, aggregates, or functions that "
    "read files or tables (read_csv, read_parquet, glob, …).",
}

_GLOB: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "A glob: * matches any run of characters, ? one character.",
}

_SPAN_SELECTOR: dict[str, Any] = {
    "type": "object",
    "description": "Any span that proves the effect, instead of the side_effect.confirm "
    "shorthand. All given conditions must hold.",
    "additionalProperties": False,
    "minProperties": 1,
    "x-messages": {
        "minProperties": "{label} must select something: name, kind, status, attributes or where"
    },
    "properties": {
        "name": {**_GLOB, "description": "Glob on the span name, e.g. smtp.send or HTTP *."},
        "kind": {"enum": list(SPAN_KINDS), "description": "The span kind."},
        "status": {
            "enum": list(SPAN_STATUSES),
            "description": "The span status: ok matches any span that did not fail (Ok or Unset, since instrumentations leave success Unset); error and unset match exactly.",
        },
        "attributes": {
            **_ATTRIBUTES,
            "description": "On the span's attributes, e.g. {smtp.reply.code: 250}. "
            + _ATTRIBUTES_DOC,
        },
        "where": _WHERE,
    },
}

_JOB_SELECTOR: dict[str, Any] = {
    "type": "object",
    "description": "Which job runs this rule judges. Every given condition must hold; an empty "
    "mapping selects every job of every system.",
    "additionalProperties": False,
    "properties": {
        "system": {
            "type": "string",
            "minLength": 1,
            "description": "The job system (a profile name: celery, rq, dramatiq, bullmq, …). "
            "Any system when absent.",
        },
        "name": {**_GLOB, "description": "Glob on the job name, e.g. tasks.send_*."},
        "queue": {"type": "string", "minLength": 1, "description": "The queue the job ran from."},
        "attributes": _ATTRIBUTES,
        "where": {
            **_WHERE,
            "description": _WHERE["description"]
            + " It may name the job run's columns (system, job_id, job_name, queue, attempt, "
            "outcome, service, …; with complete_within, an enqueue's) and its span's "
            "(ServiceName, Duration, SpanAttributes, …).",
        },
    },
}

_KEY_MAP_DOC = (
    "With correlate: key, the attribute on each side whose values must be equal. On the job "
    "side, job.id means the job run's normalized id."
)
_KEY_MAP: dict[str, Any] = {
    "type": "object",
    "description": _KEY_MAP_DOC,
    "additionalProperties": False,
    "required": ["job", "effect"],
    "properties": {
        "job": {"type": "string", "minLength": 1, "description": "Attribute of the job run."},
        "effect": {"type": "string", "minLength": 1, "description": "Attribute of the effect."},
    },
    "default": {"job": "job.id", "effect": "job.id"},
}

_EXPECT: dict[str, Any] = {
    "type": "object",
    "description": "The side effect each selected job run must have.",
    "additionalProperties": False,
    "oneOf": [{"required": ["effect"]}, {"required": ["span"]}, {"required": ["declared"]}],
    "x-messages": {"oneOf": "{subject} must have exactly one of 'effect', 'span' or 'declared'"},
    "properties": {
        "declared": {
            "const": True,
            "description": "Each effect the job run declares in its job.expected_effects "
            "attribute (probes.expects) must be confirmed, checked effect by effect.",
        },
        "effect": {
            "type": "string",
            "minLength": 1,
            "description": "Shorthand for a side_effect.confirm span whose side_effect.name is "
            "this value (e.g. email.sent).",
        },
        "span": _SPAN_SELECTOR,
        "correlate": {
            "enum": list(CORRELATIONS),
            "default": "trace",
            "description": "How an effect is matched to a job run: in the same trace (to the "
            "run it belongs to: the job its job.id names, else its nearest job-run ancestor, "
            "else the run of its service whose time contains it; never a sibling), through "
            "span links (either direction), or by attribute equality (key).",
        },
        "key": {**_KEY_MAP, "description": "Only with correlate: key. " + _KEY_MAP_DOC},
        "within": {
            **_DURATION,
            "description": "Grace period after the job is marked done for its effect to arrive "
            "(serve). audit scan treats its input as complete. " + _DURATION_DOC,
        },
        "tolerance": {
            **_DURATION,
            "default": DEFAULT_TOLERANCE,
            "description": "Clock-skew tolerance of the before_done check: an effect ending up "
            "to this long after done_at is not premature. " + _DURATION_DOC,
        },
    },
}

_RULE: dict[str, Any] = {
    "type": "object",
    "description": "One rule: which job runs it judges, which effect it expects, how the two "
    "are correlated, and which checks apply.",
    "additionalProperties": False,
    "required": ["id", "severity", "jobs"],
    "anyOf": [{"required": ["expect"]}, {"required": ["complete_within"]}],
    "dependentRequired": {"checks": ["expect"]},
    "x-messages": {
        "anyOf": "{subject} needs 'expect' or 'complete_within'; with neither it checks nothing",
        "dependentRequired": "{subject} has '{key}' but no '{missing}': checks judge the "
        "expected effect",
    },
    "properties": {
        "id": {
            "type": "string",
            "pattern": RULE_ID_PATTERN,
            "patternErrorMessage": "lowercase letters, digits, '.', '_' and '-', starting with a "
            "letter or digit",
            "description": "Unique across all loaded rule files; part of every finding's "
            "fingerprint, so keep it stable.",
        },
        "title": {
            "type": "string",
            "minLength": 1,
            "description": "One line shown with findings. Defaults to the id.",
        },
        "description": {"type": "string", "description": "Longer explanation for triage."},
        "severity": {"enum": list(SEVERITIES), "description": "Severity of this rule's findings."},
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "false keeps the rule loaded and checked but never evaluated.",
        },
        "jobs": _JOB_SELECTOR,
        "expect": _EXPECT,
        "checks": {
            "type": "array",
            "items": {"enum": _EXPECT_CHECKS},
            "uniqueItems": True,
            "minItems": 1,
            "default": _EXPECT_CHECKS,
            "description": "Which checks apply to the expected effect: confirmed → "
            "unconfirmed_done, before_done → premature_done, at_most_once → duplicate_effect, "
            "effect_ok → failed_effect. Default: all four.",
        },
        "complete_within": {
            **_DURATION,
            "description": "Every enqueue of a selected job needs a job run (done or failed) "
            "within this long, else a lost_job finding. " + _DURATION_DOC,
        },
        "labels": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
            "description": "Free key/value labels copied onto findings (team, service, …).",
        },
        "runbook": {"type": "string", "description": "A link shown with findings."},
    },
}


def rule_file_schema(system_schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The complete JSON Schema (Draft 2020-12) of a rule file; a fresh copy on every call."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "auditor rule file",
        "description": "Rules that catch background jobs marked done whose side effect never "
        "happened (or happened twice), evaluated over OpenTelemetry spans.",
        "type": "object",
        "x-expected": "a mapping with a 'rules:' list",
        "additionalProperties": False,
        "patternProperties": {
            "^x-": {
                "description": "Extension keys, ignored: a place for YAML anchors (&defaults) "
                "that rules reuse with <<: *defaults."
            }
        },
        "minProperties": 1,
        "x-messages": {"minProperties": "the file has neither 'rules:' nor 'systems:'"},
        "properties": {
            "rules": {
                "type": "array",
                "x-expected": "a list of rules",
                "items": {"$ref": "#/$defs/rule"},
                "description": "The rules.",
            },
            "systems": {
                "type": "array",
                "x-expected": "a list of system profiles",
                "items": {"$ref": "#/$defs/system"},
                "description": "Job system profiles: how a system's spans map to job runs, "
                "enqueues and effects.",
            },
        },
        "$defs": copy.deepcopy(
            {
                "rule": _RULE,
                "system": dict(system_schema) if system_schema is not None else ANY_SYSTEM_SCHEMA,
            }
        ),
    }


# --- the words messages use ---------------------------------------------------------------


def _rule_id(document: Any, index: int) -> str | None:
    try:
        rule_id = document["rules"][index]["id"]
    except (KeyError, IndexError, TypeError):
        return None
    return rule_id if isinstance(rule_id, str) and rule_id else None


def _system_name(document: Any, index: int) -> str | None:
    try:
        entry = document["systems"][index]
    except (KeyError, IndexError, TypeError):
        return None
    for key in ("name", "system", "id"):
        if isinstance(entry, dict) and isinstance(entry.get(key), str):
            return str(entry[key])
    return None


def _dotted(path: Path) -> str:
    """``('expect', 'span', 'kind')`` → ``expect.span.kind``; a list item is ``<list> entry``."""
    words: list[str] = []
    for step in path:
        if isinstance(step, int):
            if words:
                words[-1] += " entry"
        else:
            words.append(step)
    return ".".join(words)


def field_label(path: Path, document: Any = None) -> str:
    """How a message names the field at ``path``: ``severity``, ``expect.span.kind``."""
    if not path:
        return "the file"
    if len(path) >= 2 and path[0] in ("rules", "systems") and isinstance(path[1], int):
        rest = path[2:]
        if not rest:
            return "rule" if path[0] == "rules" else "system profile"
        return _dotted(rest)
    return _dotted(path)


def subject_label(path: Path, document: Any = None) -> str:
    """How a message names the mapping at ``path``: ``rule 'x'``, ``jobs of rule 'x'``."""
    if not path:
        return "the file"
    if len(path) >= 2 and path[0] in ("rules", "systems") and isinstance(path[1], int):
        if path[0] == "rules":
            rule_id = _rule_id(document, path[1])
            owner = f"rule '{rule_id}'" if rule_id else "rule"
        else:
            name = _system_name(document, path[1])
            owner = f"system profile '{name}'" if name else "system profile"
        rest = path[2:]
        if not rest:
            return owner
        if owner in ("rule", "system profile"):
            return _dotted(rest)
        return f"{_dotted(rest)} of {owner}"
    return _dotted(path)


RULE_FILE_VOCABULARY = Vocabulary(label=field_label, subject=subject_label)
