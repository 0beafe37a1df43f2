"""Rule unit tests (``audit rules test``): spans in, expected findings out.

In the spirit of ``promtool test rules``. A test file::

    rule_files: [../email.yaml]        # relative to this file; default: the --rules given
    tests:
      - name: a done job without its email is reported
        spans:                          # compact spans (below), or
        # otlp: [capture.jsonl]         # OTLP JSON-lines files, relative to this file
        expect:                         # findings expected; [] asserts there are none
          - {rule: notify-email-confirmed, kind: unconfirmed_done, job_id: j1}

A compact span: ``{trace, span, parent, name, kind, status, message, service, scope, start,
end, attributes, events: [{name, at, attributes}], links: [{trace, span}]}``. ``trace`` and
``span`` are any labels (hex ids are used as they are, other labels are hashed into ids),
``start`` / ``end`` / ``at`` are offsets like ``0ms``, ``1.5s`` from a fixed base time, and
attribute values keep their YAML type (250 is an int, true a bool). An expected finding
matches on the fields it names (rule, kind, severity, state, system, job_id, job_name,
effect_key); the test passes when expected and actual findings pair up one to one.

Pure: builds OTLP/JSON requests and compares findings; ``cli/rules.py`` runs them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.findings.model import Finding
from auditor.rules.durations import parse_duration

BASE_TIME_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
_KIND_NUMBERS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
_STATUS_NUMBERS = {"unset": 0, "ok": 1, "error": 2}
EXPECT_FIELDS = ("rule", "kind", "severity", "state", "system", "job_id", "job_name", "effect_key")

_SPAN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "trace": {"type": ["string", "integer"]},
        "span": {"type": ["string", "integer"]},
        "parent": {"type": ["string", "integer"]},
        "name": {"type": "string"},
        "kind": {"enum": list(_KIND_NUMBERS)},
        "status": {"enum": list(_STATUS_NUMBERS)},
        "message": {"type": "string"},
        "service": {"type": "string"},
        "scope": {"type": "string"},
        "start": {"type": ["string", "number"]},
        "end": {"type": ["string", "number"]},
        "attributes": {"type": "object"},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "at": {"type": ["string", "number"]},
                    "attributes": {"type": "object"},
                },
            },
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["trace"],
                "properties": {
                    "trace": {"type": ["string", "integer"]},
                    "span": {"type": ["string", "integer"]},
                },
            },
        },
    },
}

TEST_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "auditor rule test file",
    "type": "object",
    "additionalProperties": False,
    "required": ["tests"],
    "properties": {
        "rule_files": {"type": "array", "items": {"type": "string"}},
        "tests": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "expect"],
                "properties": {
                    "name": {"type": "string"},
                    "spans": {"type": "array", "items": _SPAN},
                    "otlp": {"type": "array", "items": {"type": "string"}},
                    "as_of": {"type": "string"},
                    "expect": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "minProperties": 1,
                            "properties": {
                                f: {"type": ["string", "integer"]} for f in EXPECT_FIELDS
                            },
                        },
                    },
                },
            },
        },
    },
}


def _id(label: Any, size: int) -> str:
    text = str(label)
    if len(text) == size * 2 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    return hashlib.sha256(text.encode()).hexdigest()[: size * 2]


def _offset_ns(value: Any) -> int:
    if value is None:
        return 0
    return round(parse_duration(value, "time offset") * 1e9)


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _attributes(value)}}
    return {"stringValue": "" if value is None else str(value)}


def _attributes(mapping: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any_value(v)} for k, v in (mapping or {}).items()]


def spans_to_request(spans: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Compact spans → one OTLP/JSON ExportTraceServiceRequest (grouped by service/scope)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for index, s in enumerate(spans):
        start = BASE_TIME_NS + _offset_ns(s.get("start"))
        end = BASE_TIME_NS + _offset_ns(s.get("end", s.get("start")))
        span: dict[str, Any] = {
            "traceId": _id(s.get("trace", "trace"), 16),
            "spanId": _id(s.get("span", f"span-{index}"), 8),
            "name": s["name"],
            "kind": _KIND_NUMBERS.get(s.get("kind", "internal"), 1),
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(end),
            "attributes": _attributes(s.get("attributes")),
            "status": {
                "code": _STATUS_NUMBERS[s.get("status", "unset")],
                "message": s.get("message", ""),
            },
            "events": [
                {
                    "name": e["name"],
                    "timeUnixNano": str(BASE_TIME_NS + _offset_ns(e.get("at", s.get("end")))),
                    "attributes": _attributes(e.get("attributes")),
                }
                for e in s.get("events") or ()
            ],
            "links": [
                {"traceId": _id(link["trace"], 16), "spanId": _id(link.get("span", "link"), 8)}
                for link in s.get("links") or ()
            ],
        }
        if "parent" in s:
            span["parentSpanId"] = _id(s["parent"], 8)
        groups.setdefault((s.get("service", "test-service"), s.get("scope", "test")), []).append(
            span
        )
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attributes({"service.name": service})},
                "scopeSpans": [{"scope": {"name": scope}, "spans": items}],
            }
            for (service, scope), items in groups.items()
        ]
    }


def finding_fields(f: Finding) -> dict[str, str]:
    return {
        "rule": f.rule_id,
        "kind": str(f.kind),
        "severity": str(f.severity),
        "state": str(f.state),
        "system": f.system,
        "job_id": f.job_id,
        "job_name": f.job_name,
        "effect_key": f.effect_key,
    }


@dataclass(frozen=True)
class Outcome:
    passed: bool
    missing: tuple[dict[str, str], ...]  # expected, not found
    unexpected: tuple[dict[str, str], ...]  # found, not expected


def compare(expected: list[Mapping[str, Any]], findings: list[Finding]) -> Outcome:
    """Pair expected findings with actual ones, one to one, on the fields each names."""
    actual = [finding_fields(f) for f in findings]
    remaining = list(range(len(actual)))
    missing = []
    for want in expected:
        wanted = {k: str(v) for k, v in want.items()}
        match = next(
            (i for i in remaining if all(actual[i].get(k) == v for k, v in wanted.items())), None
        )
        if match is None:
            missing.append(wanted)
        else:
            remaining.remove(match)
    unexpected = tuple(actual[i] for i in remaining)
    return Outcome(not missing and not unexpected, tuple(missing), unexpected)
