"""The OTLP/JSON example of the OTLP specification (``tests/data/otlp/trace.json``, copied
unmodified from open-telemetry/opentelemetry-proto ``examples/trace.json``) decodes to the values
it spells: upper-case hex ids, 64-bit timestamps as decimal strings, a kind as an integer, a
scope attribute (not stored)."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.otlp.otlpjson import decode_json

EXAMPLE = Path(__file__).parents[2] / "data" / "otlp" / "trace.json"


def test_the_specification_example_decodes_to_one_span_with_its_values() -> None:
    batch = decode_json(EXAMPLE.read_bytes())
    assert batch.rejected == 0
    row = {column: values[0] for column, values in batch.columns.items()}
    assert len(batch) == 1
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c"
    assert row["SpanId"] == "eee19b7ec3c1b174"
    assert row["ParentSpanId"] == "eee19b7ec3c1b173"
    assert row["SpanName"] == "I'm a server span"
    assert row["SpanKind"] == "Server"
    assert row["Timestamp"] == 1544712660000000000
    assert row["Duration"] == 1_000_000_000
    assert row["ServiceName"] == "my.service"
    assert json.loads(row["ResourceAttributes"]) == {"service.name": "my.service"}
    assert row["ScopeName"] == "my.library"
    assert row["ScopeVersion"] == "1.0.0"
    assert json.loads(row["SpanAttributes"]) == {"my.span.attr": "some value"}
    assert row["StatusCode"] == "Unset"
    assert row["StatusMessage"] == ""
    assert row["TraceState"] == ""
    assert row["Events.Name"] == []
    assert row["Links.TraceId"] == []
    assert row["Flags"] == 0


def test_the_specification_example_is_the_unmodified_upstream_file() -> None:
    text = EXAMPLE.read_text()
    # upstream spells ids in upper case: the point of using it rather than our own encoder
    assert '"traceId": "5B8EFFF798038103D269B633813FC60C"' in text
    assert '"startTimeUnixNano": "1544712660000000000"' in text
