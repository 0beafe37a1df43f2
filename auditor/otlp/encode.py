"""OTLP protobuf request → one OTLP/JSON line (the Collector file exporter's format).

Used by ``audit serve --record`` to keep a faithful, replayable copy of accepted traffic
(which ``audit ingest`` and ``audit scan`` read back). The protobuf JSON mapping gives
base64 ids; OTLP/JSON requires hex, so ids are rewritten. Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex(value: str) -> str:
    return base64.b64decode(value).hex()


def request_to_json(body: bytes) -> str:
    """The OTLP/JSON text (one line, no newline) of a protobuf ExportTraceServiceRequest."""
    message = ExportTraceServiceRequest.FromString(body)
    document: dict[str, Any] = json_format.MessageToDict(message, use_integers_for_enums=True)
    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in _ID_KEYS:
                    if key in span:
                        span[key] = _hex(span[key])
                for link in span.get("links", []):
                    for key in _ID_KEYS:
                        if key in link:
                            link[key] = _hex(link[key])
    return json.dumps(document, separators=(",", ":"))
