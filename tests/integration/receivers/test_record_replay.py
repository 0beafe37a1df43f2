"""``audit serve --record FILE`` keeps one OTLP JSON line per accepted request, whatever its
transport and encoding; ``audit ingest`` of that file into a fresh store reproduces the server's
rows exactly, and ingesting it again adds nothing."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.integration.receivers.conftest import AUDIT, start_server, stop_cleanly
from tests.integration.receivers.requests import fresh_request
from tests.integration.receivers.rows import rows_in, stored_rows
from tests.unit.otlp.builders import otlp_json, sdk_spans

pytestmark = pytest.mark.integration

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def ingest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUDIT, "ingest", *args], capture_output=True, text=True, timeout=120)


def test_a_recording_replays_into_the_same_rows_and_only_once(tmp_path: Path) -> None:
    record = tmp_path / "recorded.jsonl"
    server = start_server(tmp_path, "--record", str(record))
    try:
        # SDK exporter (HTTP/protobuf, one request per span with SimpleSpanProcessor)
        sdk = SimpleSpanProcessor(OTLPSpanExporter(endpoint=server.url, timeout=10))
        sdk_spans("shop-sdk", sdk)
        with httpx.Client(timeout=30) as http:
            # gzip protobuf, OTLP/JSON (upper-case ids, enum names), chunked JSON
            accepted = [
                http.post(
                    server.url,
                    content=gzip.compress(fresh_request().SerializeToString()),
                    headers={**PROTOBUF, "Content-Encoding": "gzip"},
                ),
                http.post(
                    server.url,
                    content=otlp_json(fresh_request(), upper_ids=True, enum_names=True),
                    headers=JSON,
                ),
                http.post(
                    server.url,
                    content=iter([otlp_json(fresh_request(service="shop-node"))]),
                    headers=JSON,
                ),
            ]
            refused = [
                http.post(server.url, content=b"\xff\xff", headers=PROTOBUF),
                http.post(server.url, content=b"{", headers=JSON),
                http.post(
                    server.url,
                    content=fresh_request().SerializeToString(),
                    headers={"Content-Type": "text/plain"},
                ),
            ]
        with grpc.insecure_channel(server.grpc_target) as channel:
            export = channel.unary_unary(EXPORT)
            export(fresh_request(service="shop-grpc").SerializeToString(), timeout=30)
    finally:
        stop_cleanly(server)
    assert [r.status_code for r in accepted] == [200, 200, 200]
    assert [r.status_code for r in refused] == [400, 400, 415]

    lines = record.read_text().splitlines()
    assert len(lines) == 6 + 3 + 1  # six SDK spans, three HTTP requests, one gRPC request
    for line in lines:
        document = json.loads(line)
        assert set(document) == {"resourceSpans"}

    original = stored_rows(server)
    assert len(original) == 6 + 3 * 6 + 6

    fresh = tmp_path / "replayed.duckdb"
    first = ingest(str(record), "--db", str(fresh))
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith(
        f"{len(original)} spans stored in {fresh} from 10 requests in 1 file(s); "
        "0 duplicates skipped; 0 spans and 0 lines rejected"
    )
    assert rows_in(fresh) == original

    again = ingest(str(record), "--db", str(fresh))
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(
        f"0 spans stored in {fresh} from 10 requests in 1 file(s); "
        f"{len(original)} duplicates skipped"
    )
    assert rows_in(fresh) == original
