"""The OpenAPI 3 document of ``audit serve``'s API, written by hand, served at
``/openapi.json``.

It describes every endpoint ``service.ApiService`` routes (a unit test holds the two to the
same list), each parameter and body, and every status each can answer: a property-based test
(schemathesis) sends generated requests to a real server and fails on any answer this
document does not describe. Change the two together.
"""

from __future__ import annotations

from typing import Any

from auditor import __version__
from auditor.findings.model import Kind, Severity, State, Triage
from auditor.store.triage import Action

_HEX = "^[0-9a-f]{1,64}$"
_RULE_ID = "^[a-z0-9][a-z0-9._-]*$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): {"$ref": f"#/components/responses/{_ERROR_NAMES[code]}"} for code in codes}


_ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


_STRING = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}


def _list_param(name: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "string", **({"enum": enum} if enum else {})}
    return {
        "name": name,
        "in": "query",
        "description": description + " Repeat the parameter, or separate values by commas.",
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": items},
    }


def _path(name: str, description: str, pattern: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


_SPAN_REF = {
    "type": "object",
    "required": ["role", "trace_id", "span_id", "name"],
    "properties": {
        "role": {
            **_STRING,
            "description": "job_run, enqueue, effect, failed_span, nearest_miss, signal",
        },
        "trace_id": _STRING,
        "span_id": _STRING,
        "name": _STRING,
        "service": _STRING,
        "start_ns": _nullable(_INT),
        "end_ns": _nullable(_INT),
        "status": _STRING,
        "note": _STRING,
    },
}

_FINDING_REQUIRED = [
    "rule_id", "kind", "severity", "state", "system", "job_id", "job_name", "effect_key",
    "trace_id", "message", "triage", "evidence", "labels", "fingerprint", "first_seen",
    "last_seen",
]  # fmt: skip

_FINDING = {
    "type": "object",
    "description": "A finding as `audit scan --format json` writes it, plus what the store "
    "keeps about it.",
    "required": _FINDING_REQUIRED,
    "properties": {
        "rule_id": _STRING,
        "kind": {"type": "string", "enum": [str(k) for k in Kind]},
        "severity": {"type": "string", "enum": [str(s) for s in Severity]},
        "state": {"type": "string", "enum": [str(s) for s in State]},
        "system": _STRING,
        "job_id": _STRING,
        "job_name": _STRING,
        "effect_key": _STRING,
        "trace_id": _STRING,
        "message": _STRING,
        "span_id": _STRING,
        "queue": _STRING,
        "attempt": _nullable(_INT),
        "done_at_ns": _nullable(_INT),
        "effect_name": _STRING,
        "service": _STRING,
        "triage": {
            "type": "string",
            "enum": [str(t) for t in Triage],
            "description": "muted while the finding's rule is muted (unless false_positive)",
        },
        "evidence": {"type": "array", "items": _ref("SpanRef")},
        "labels": {"type": "object", "additionalProperties": _STRING},
        "fingerprint": _STRING,
        "origin": {**_STRING, "description": "scan or serve: what evaluated it last"},
        "first_seen": _TIME,
        "last_seen": _TIME,
        "resolved_at": _nullable(_TIME),
        "muted_until": _nullable(_TIME),
    },
}

_NOTE = {
    "type": "object",
    "required": ["at", "author", "triage", "text"],
    "properties": {
        "at": _TIME,
        "author": _STRING,
        "triage": _nullable({"type": "string", "enum": [str(t) for t in Triage]}),
        "text": _STRING,
    },
}

_TRACE_SPAN = {
    "type": "object",
    "required": ["span_id", "parent_span_id", "name", "kind", "service", "start_ns", "end_ns"],
    "properties": {
        "span_id": _STRING,
        "parent_span_id": _STRING,
        "name": _STRING,
        "kind": _STRING,
        "service": _STRING,
        "start_ns": _INT,
        "end_ns": _INT,
        "status": _STRING,
        "status_message": _STRING,
        "attributes": {"type": "object"},
    },
}

_COUNTS = {"type": "object", "additionalProperties": _INT}

_RULE = {
    "type": "object",
    "required": ["id", "title", "severity", "findings", "triage", "muted_until"],
    "properties": {
        "id": _STRING,
        "title": _STRING,
        "severity": {"type": "string", "enum": [str(s) for s in Severity]},
        "description": _STRING,
        "runbook": _STRING,
        "source": _STRING,
        "line": _INT,
        "labels": {"type": "object", "additionalProperties": _STRING},
        "findings": {**_COUNTS, "description": "findings of the rule by state"},
        "triage": {**_COUNTS, "description": "findings of the rule by (effective) triage"},
        "muted_until": _nullable(_TIME),
    },
}

_STATS = {
    "type": "object",
    "required": ["version", "ready", "uptime_s", "store", "ingest", "evaluation", "alerts"],
    "properties": {
        "version": _STRING,
        "ready": {"type": "boolean"},
        "not_ready": _STRING,
        "uptime_s": {"type": "number"},
        "store": {
            "type": "object",
            "required": ["path", "bytes", "spans"],
            "properties": {"path": _STRING, "bytes": _INT, "spans": _INT},
        },
        "ingest": {
            "type": "object",
            "description": "Counters since the start, and what the store committed in the "
            "last minute and five minutes (from its commit log).",
            "required": ["spans_received", "spans_rejected", "spans_stored", "last_minute"],
            "properties": {
                "requests": _INT,
                "spans_received": _INT,
                "spans_rejected": _INT,
                "spans_stored": _INT,
                "commits": _INT,
                "pending_spans": _INT,
                "workers": _INT,
                "last_commit_at": _nullable(_TIME),
                "last_minute": {"type": "object"},
                "last_5_minutes": {"type": "object"},
            },
        },
        "evaluation": _nullable(
            {
                "type": "object",
                "description": "null when evaluation is off (--evaluation-interval 0)",
                "properties": {
                    "passes": _INT,
                    "last_seconds": {"type": "number"},
                    "lag_s": {"type": "number"},
                    "findings": _INT,
                    "last_error": _STRING,
                },
            }
        ),
        "alerts": {
            "type": "object",
            "required": ["outbox_depth", "failures"],
            "properties": {"outbox_depth": _INT, "failures": _COUNTS},
        },
    },
}

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": _STRING}}

_TRIAGE_REQUEST = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string", "enum": [a.value for a in Action]},
        "note": {
            "type": "string",
            "maxLength": 4000,
            "description": "why; required for false_positive and note",
        },
        "author": {"type": "string", "maxLength": 200, "description": "who (default: api)"},
    },
}

_MUTE_REQUEST = {
    "type": "object",
    "required": ["for"],
    "properties": {
        "for": {
            "type": "string",
            "description": "how long, a duration like 30m, 2h or 1d (at most 366d)",
            "example": "2h",
        },
        "note": {"type": "string", "maxLength": 4000},
        "author": {"type": "string", "maxLength": 200},
    },
}

_FINGERPRINT = _path("fingerprint", "A finding's fingerprint, or a unique prefix of it.", _HEX)
_RULE_PARAM = _path("rule_id", "An enabled rule's id.", _RULE_ID)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "auditor",
        "version": __version__,
        "description": "Findings of background jobs that said done when the work never "
        "happened, kept by `audit serve`; their triage; the sidecar's state. Every error is "
        '`{"error": "…"}`. With a token configured (`--token`, `AUDIT_TOKEN`), every '
        "endpoint but /readyz (and /healthz) needs `Authorization: Bearer <token>`.",
    },
    "security": [{"bearer": []}, {}],
    "paths": {
        "/readyz": {
            "get": {
                "summary": "Ready: the store is open and the first evaluation ran",
                "operationId": "readyz",
                "security": [],
                "responses": {
                    "200": _json({"type": "object", "properties": {"status": _STRING}}, "Ready."),
                    "503": _json(
                        {"type": "object", "properties": {"status": _STRING, "error": _STRING}},
                        "Not ready yet, or draining.",
                    ),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI document."),
                    **_errors(401),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text format)",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "The metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(401),
                },
            }
        },
        "/api/v1/findings": {
            "get": {
                "summary": "Findings kept in the store, most severe first, in pages",
                "operationId": "listFindings",
                "parameters": [
                    _list_param("state", "Only these states.", [str(s) for s in State]),
                    {
                        "name": "severity",
                        "in": "query",
                        "description": "Only findings at least this severe.",
                        "schema": {"type": "string", "enum": [str(s) for s in Severity]},
                    },
                    _list_param("rule", "Only these rule ids."),
                    _list_param("kind", "Only these kinds.", [str(k) for k in Kind]),
                    _list_param("system", "Only these job systems."),
                    _list_param(
                        "triage", "Only this (effective) triage.", [str(t) for t in Triage]
                    ),
                    {
                        "name": "since",
                        "in": "query",
                        "description": "Only findings last seen at or after this time: "
                        "ISO 8601 (UTC unless it says otherwise) or epoch seconds.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "description": "Findings per page.",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "description": "The `next` cursor of the page before.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["findings", "next"],
                            "properties": {
                                "findings": {"type": "array", "items": _ref("Finding")},
                                "next": _nullable(
                                    {
                                        **_STRING,
                                        "description": "cursor of the next page; null on the last",
                                    }
                                ),
                            },
                        },
                        "One page, ordered by severity (most severe first), last_seen and "
                        "fingerprint.",
                    ),
                    **_errors(400, 401),
                },
            }
        },
        "/api/v1/findings/{fingerprint}": {
            "get": {
                "summary": "One finding, with its evidence and triage notes",
                "operationId": "getFinding",
                "parameters": [_FINGERPRINT],
                "responses": {
                    "200": _json(_ref("FindingDetail"), "The finding."),
                    **_errors(401, 404, 409),
                },
            }
        },
        "/api/v1/findings/{fingerprint}/triage": {
            "post": {
                "summary": "Triage a finding: acknowledge, false_positive, reopen, or note",
                "operationId": "triageFinding",
                "description": "acknowledge: from new. false_positive (needs a note): from new "
                "or acknowledged. reopen: back to new. note: adds a note. Any other "
                "transition is 409.",
                "parameters": [_FINGERPRINT],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TriageRequest")}},
                },
                "responses": {
                    "200": _json(_ref("FindingDetail"), "The finding after the change."),
                    **_errors(400, 401, 404, 409),
                },
            }
        },
        "/api/v1/traces/{trace_id}": {
            "get": {
                "summary": "The spans of a trace, as audit show reads them",
                "operationId": "getTrace",
                "parameters": [_path("trace_id", "The trace id (hex).", _HEX)],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["trace_id", "spans", "truncated"],
                            "properties": {
                                "trace_id": _STRING,
                                "spans": {"type": "array", "items": _ref("TraceSpan")},
                                "truncated": {"type": "boolean"},
                            },
                        },
                        "The spans in start order (at most 2000).",
                    ),
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/rules": {
            "get": {
                "summary": "The enabled rules, their findings by state and triage, and mutes",
                "operationId": "listRules",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["rules"],
                            "properties": {"rules": {"type": "array", "items": _ref("Rule")}},
                        },
                        "The rules, by id.",
                    ),
                    **_errors(401),
                },
            }
        },
        "/api/v1/rules/{rule_id}/mute": {
            "post": {
                "summary": "Mute a rule for a while: its findings read triage muted",
                "operationId": "muteRule",
                "parameters": [_RULE_PARAM],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MuteRequest")}},
                },
                "responses": {
                    "200": _json(_ref("Mute"), "Muted (a mute replaces the rule's current one)."),
                    **_errors(400, 401, 404, 409),
                },
            },
            "delete": {
                "summary": "End a rule's mute",
                "operationId": "unmuteRule",
                "parameters": [_RULE_PARAM],
                "responses": {
                    "200": _json(_ref("Mute"), "Not muted (any more)."),
                    **_errors(401, 404, 409),
                },
            },
        },
        "/api/v1/stats": {
            "get": {
                "summary": "Ingest, store, evaluation and alerting numbers",
                "operationId": "stats",
                "responses": {"200": _json(_ref("Stats"), "The numbers."), **_errors(401)},
            }
        },
        "/api/v1/report": {
            "get": {
                "summary": "Scan the store now, as audit scan --db would (audit scan --server)",
                "operationId": "report",
                "description": "Evaluates every enabled rule of the server over its store. "
                "JSON: the document of `audit scan --format json` plus `warnings`. With "
                "`Accept: application/vnd.apache.arrow.stream`: the findings table as an "
                "Arrow IPC stream, the rest of the report in its schema metadata.",
                "parameters": [
                    {
                        "name": "as_of",
                        "in": "query",
                        "description": "Judge grace windows as of this time (ISO 8601 or "
                        "epoch seconds); default: the input is complete.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "checked",
                        "in": "query",
                        "description": "List every (rule, job) judged (JUnit).",
                        "schema": {"type": "boolean", "default": False},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The report.",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "application/vnd.apache.arrow.stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    **_errors(400, 401),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _ERROR,
            "SpanRef": _SPAN_REF,
            "Finding": _FINDING,
            "FindingDetail": {
                "allOf": [
                    _ref("Finding"),
                    {
                        "type": "object",
                        "required": ["notes"],
                        "properties": {"notes": {"type": "array", "items": _ref("Note")}},
                    },
                ]
            },
            "Note": _NOTE,
            "TraceSpan": _TRACE_SPAN,
            "Rule": _RULE,
            "Mute": {
                "type": "object",
                "required": ["rule_id", "muted_until"],
                "properties": {"rule_id": _STRING, "muted_until": _nullable(_TIME)},
            },
            "Stats": _STATS,
            "TriageRequest": _TRIAGE_REQUEST,
            "MuteRequest": _MUTE_REQUEST,
        },
        "responses": {
            "BadRequest": _json(_ref("Error"), "A parameter or the body is not valid."),
            "Unauthorized": _json(
                _ref("Error"), "No token, or the wrong one (a token is configured)."
            ),
            "NotFound": _json(_ref("Error"), "No such thing."),
            "MethodNotAllowed": _json(_ref("Error"), "The path does not take this method."),
            "Conflict": _json(
                _ref("Error"),
                "An ambiguous fingerprint prefix, or a change that does not apply now.",
            ),
        },
    },
}
