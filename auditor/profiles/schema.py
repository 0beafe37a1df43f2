"""JSON Schema of a system profile (an entry of ``systems:`` in ``rules/systems/*.yaml`` or
in a rule file). Published with the rule file schema by ``audit rules schema``. Pure data.
"""

from __future__ import annotations

from typing import Any

_GLOB = {
    "type": "string",
    "minLength": 1,
    "description": "A glob: * matches any text, ? one character.",
}
_GLOBS = {"oneOf": [_GLOB, {"type": "array", "items": _GLOB, "minItems": 1}]}
_KIND = {"enum": ["internal", "server", "client", "producer", "consumer"]}
_SCALAR = {"type": ["string", "number", "boolean"]}

_COND: dict[str, Any] = {
    "type": "object",
    "description": "A test on one span; every key given must hold.",
    "additionalProperties": False,
    "properties": {
        "name": {**_GLOBS, "description": "Span name glob(s); any may match."},
        "kind": {"oneOf": [_KIND, {"type": "array", "items": _KIND, "minItems": 1}]},
        "status": {"enum": ["ok", "error", "unset"]},
        "scope": {**_GLOB, "description": "Instrumentation scope name glob."},
        "service": {**_GLOB, "description": "service.name glob."},
        "attributes": {
            "type": "object",
            "description": "Span attributes equal to a value (or to any value of a list), compared as text.",
            "additionalProperties": {
                "oneOf": [_SCALAR, {"type": "array", "items": _SCALAR, "minItems": 1}]
            },
        },
        "attributes_like": {
            "type": "object",
            "description": "Span attributes matching a glob.",
            "additionalProperties": _GLOB,
        },
        "has_attributes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "lacks_attributes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "event": {"type": "string", "description": "The span has an event of this name."},
        "child": {
            "$ref": "#/$defs/system/$defs/cond",
            "description": "A direct child span satisfies this.",
        },
        "parent": {
            "$ref": "#/$defs/system/$defs/cond",
            "description": "The parent span satisfies this.",
        },
        "any": {"type": "array", "items": {"$ref": "#/$defs/system/$defs/cond"}, "minItems": 1},
        "not": {"$ref": "#/$defs/system/$defs/cond"},
    },
}

_VALUE: dict[str, Any] = {
    "description": (
        "Where a field comes from: an attribute name, or {attribute}, {resource}, {value}, "
        "{span: name|service|scope|id|parent}, {first: [...]}, {join: [...]}, "
        "{after: SEPARATOR, of: VALUE}."
    ),
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
            "properties": {
                "attribute": {"type": "string", "minLength": 1},
                "resource": {"type": "string", "minLength": 1},
                "value": {"type": "string"},
                "span": {"enum": ["name", "service", "scope", "id", "parent"]},
                "first": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/system/$defs/value"},
                    "minItems": 1,
                },
                "join": {
                    "type": "array",
                    "items": {"$ref": "#/$defs/system/$defs/value"},
                    "minItems": 1,
                },
            },
        },
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["after", "of"],
            "properties": {
                "after": {"type": "string", "minLength": 1},
                "of": {"$ref": "#/$defs/system/$defs/value"},
            },
        },
    ],
}

_OUTCOME = {
    "type": "object",
    "additionalProperties": False,
    "required": ["is", "when"],
    "properties": {
        "is": {"enum": ["done", "failed", "retry"]},
        "when": {"$ref": "#/$defs/system/$defs/cond"},
    },
}

_DONE_AT = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "event": {"type": "string", "minLength": 1},
        "on": {"enum": ["self", "children"]},
        "child_start": _GLOB,
        "child_end": _GLOB,
    },
}

_RUN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match", "job_id"],
    "properties": {
        "match": {"$ref": "#/$defs/system/$defs/cond"},
        "system": {"$ref": "#/$defs/system/$defs/value"},
        "job_id": {"$ref": "#/$defs/system/$defs/value"},
        "job_name": {"$ref": "#/$defs/system/$defs/value"},
        "queue": {"$ref": "#/$defs/system/$defs/value"},
        "attempt": {
            "anyOf": [
                {"const": "sequence"},
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["attribute"],
                    "properties": {"attribute": {"type": "string"}, "offset": {"type": "integer"}},
                },
            ]
        },
        "outcome": {"type": "array", "items": _OUTCOME},
        "done_at": {"type": "array", "items": _DONE_AT},
        "signals": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["signal", "when"],
                "properties": {
                    "signal": {"type": "string"},
                    "when": {"$ref": "#/$defs/system/$defs/cond"},
                },
            },
        },
        "expected_effects": {"type": "string", "minLength": 1},
    },
}

_ENQUEUE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match", "job_id"],
    "properties": {
        "match": {"$ref": "#/$defs/system/$defs/cond"},
        "system": {"$ref": "#/$defs/system/$defs/value"},
        "job_id": {"$ref": "#/$defs/system/$defs/value"},
        "job_name": {"$ref": "#/$defs/system/$defs/value"},
        "queue": {"$ref": "#/$defs/system/$defs/value"},
    },
}

_EFFECT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match", "effect_name", "effect_key", "job_id"],
    "properties": {
        "match": {"$ref": "#/$defs/system/$defs/cond"},
        "effect_name": {"$ref": "#/$defs/system/$defs/value"},
        "effect_key": {"$ref": "#/$defs/system/$defs/value"},
        "job_id": {"$ref": "#/$defs/system/$defs/value"},
        "system": {"$ref": "#/$defs/system/$defs/value"},
        "error_when": {"$ref": "#/$defs/system/$defs/cond"},
    },
}

_SIGNAL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["match", "signal", "event", "job_id"],
    "properties": {
        "match": {"$ref": "#/$defs/system/$defs/cond"},
        "signal": {"type": "string", "minLength": 1},
        "event": {"type": "string", "minLength": 1},
        "job_id": {
            "type": "string",
            "minLength": 1,
            "description": "Event attribute with the job id.",
        },
        "system": {"$ref": "#/$defs/system/$defs/value"},
    },
}

PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "System profile",
    "description": "How one job system's spans become job runs, enqueues, effects and signals.",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$"},
        "title": {"type": "string"},
        "priority": {"type": "integer", "minimum": 0, "maximum": 1000},
        "runs": {"type": "array", "items": _RUN},
        "enqueues": {"type": "array", "items": _ENQUEUE},
        "effects": {"type": "array", "items": _EFFECT},
        "signals": {"type": "array", "items": _SIGNAL},
    },
}

DEFS: dict[str, Any] = {"cond": _COND, "value": _VALUE}


def profile_schema() -> dict[str, Any]:
    """The profile schema, as the rule file schema embeds it (at ``#/$defs/system``; the
    references above point into its own ``$defs`` from there)."""
    return {**PROFILE_SCHEMA, "$defs": DEFS}
