"""Each sink's documented format, as a JSON Schema the payloads are checked against.

Written from each service's own documentation, not from our code:

- ``ALERTMANAGER``: the body of ``POST /api/v2/alerts`` in Alertmanager's OpenAPI (v2)
  specification, ``postableAlerts``: an array of ``postableAlert`` = ``labels`` (a ``labelSet``,
  required), ``annotations`` (a ``labelSet``), ``startsAt`` / ``endsAt`` (date-time),
  ``generatorURL`` (uri); a ``labelSet`` maps names to strings. Stricter than the spec where
  Alertmanager checks more when it receives alerts: at least one label, label names
  ``[a-zA-Z_][a-zA-Z0-9_]*``, no unknown fields (a misspelt ``endAt`` would be ignored).
- ``PAGERDUTY``: an alert event of PagerDuty's Events API v2 ("Send an Alert Event"):
  ``routing_key`` and ``event_action`` (trigger | acknowledge | resolve) required,
  ``dedup_key`` at most 255 characters; a trigger needs ``payload`` with ``summary`` (at most
  1024 characters), ``source`` and ``severity`` (critical | error | warning | info);
  ``timestamp``, ``component``, ``group``, ``class``, ``custom_details`` (an object) optional;
  ``links`` items need ``href``, ``images`` items ``src``.
- ``SLACK``: an incoming-webhook body with Block Kit blocks: at most 50 blocks; a
  ``header``'s text is ``plain_text`` of at most 150 characters; a ``section``'s text at most
  3000; a ``context`` at most 10 elements.
- ``WEBHOOK``: auditor's own document (docs/alerts.md), each finding with at least the
  fields ``audit scan --format json`` promises.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from tests.unit.reports.test_json import CONTRACT_FIELDS

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_TIME = {"type": "string", "pattern": RFC3339}
_LABEL_SET = {"type": "object", "additionalProperties": {"type": "string"}}

ALERTMANAGER: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["labels"],
        "properties": {
            "labels": {
                **_LABEL_SET,
                "minProperties": 1,
                "propertyNames": {"pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$"},
                "additionalProperties": {"type": "string", "minLength": 1},
            },
            "annotations": _LABEL_SET,
            "startsAt": _TIME,
            "endsAt": _TIME,
            "generatorURL": {"type": "string", "pattern": r"^[a-z][a-z0-9+.-]*:"},
        },
    },
}

PAGERDUTY: dict[str, Any] = {
    "type": "object",
    "required": ["routing_key", "event_action"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": _TIME,
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["href"],
                "properties": {"href": {"type": "string"}, "text": {"type": "string"}},
            },
        },
        "images": {
            "type": "array",
            "items": {"type": "object", "required": ["src"]},
        },
    },
    "additionalProperties": False,
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
    "else": {"required": ["dedup_key"]},
}

_PLAIN = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {
        "type": {"const": "plain_text"},
        "text": {"type": "string"},
        "emoji": {"type": "boolean"},
    },
}
_MRKDWN = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "mrkdwn"}, "text": {"type": "string", "maxLength": 3000}},
}
SLACK: dict[str, Any] = {
    "type": "object",
    "required": ["blocks"],
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "blocks": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "oneOf": [
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "header"},
                            "text": {
                                **_PLAIN,
                                "properties": {
                                    **_PLAIN["properties"],
                                    "text": {"type": "string", "maxLength": 150},
                                },
                            },
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {
                            "type": {"const": "section"},
                            "text": {"oneOf": [_MRKDWN, _PLAIN]},
                        },
                    },
                    {
                        "type": "object",
                        "required": ["type", "elements"],
                        "properties": {
                            "type": {"const": "context"},
                            "elements": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 10,
                                "items": {"oneOf": [_MRKDWN, _PLAIN]},
                            },
                        },
                    },
                    {"type": "object", "properties": {"type": {"const": "divider"}}},
                ]
            },
        },
    },
}

FINDING_FIELDS = sorted(CONTRACT_FIELDS)  # what audit scan --format json promises
WEBHOOK: dict[str, Any] = {
    "type": "object",
    "required": ["version", "id", "event", "sink", "group", "created_at", "summary", "findings"],
    "properties": {
        "version": {"const": "1"},
        "id": {"type": "string", "minLength": 1},
        "event": {"enum": ["open", "repeat", "resolved", "test"]},
        "sink": {"type": "string"},
        "group": {
            "type": "object",
            "required": ["key", "labels"],
            "properties": {"key": {"type": "string"}, "labels": _LABEL_SET},
        },
        "created_at": _TIME,
        "summary": {"type": "string"},
        "findings": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    *FINDING_FIELDS,
                    "labels",
                    "evidence",
                    "opened_at",
                    "first_seen",
                    "last_seen",
                    "resolved_at",
                    "title",
                    "runbook",
                ],
                "properties": {
                    "labels": _LABEL_SET,
                    "evidence": {"type": "array"},
                    "opened_at": _TIME,
                    "first_seen": _TIME,
                    "last_seen": _TIME,
                    "resolved_at": {"oneOf": [_TIME, {"type": "null"}]},
                },
            },
        },
    },
}


def problems(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every way ``instance`` breaks ``schema``, as ``path: message`` lines ([] when valid)."""
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '.'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]
