"""``audit ingest FILE… --db PATH``: every file format the file receiver reads, bad lines named by
``file:LINE``, exit code 3 when anything was rejected, and the one-line error for unreadable
input. Most cases call the CLI's ``main`` in-process (the console script is ``sys.exit(main())``);
stdin and the error line go through the real ``audit`` executable."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from auditor.cli.main import main
from tests.integration.receivers.conftest import AUDIT
from tests.integration.receivers.requests import fresh_request, ids_of, with_invalid_spans
from tests.integration.receivers.rows import rows_in
from tests.unit.otlp.builders import otlp_json

pytestmark = pytest.mark.integration

SPEC_EXAMPLE = Path(__file__).parents[2] / "data" / "otlp" / "trace.json"


def stored_ids(db: Path) -> set[tuple[str, str]]:
    return {(r["TraceId"], r["SpanId"]) for r in rows_in(db)}


def jsonl(*requests: ExportTraceServiceRequest) -> bytes:
    return b"".join(otlp_json(r) + b"\n" for r in requests)


def length_prefixed(*requests: ExportTraceServiceRequest) -> bytes:
    """The Collector file exporter's ``proto`` format: 4-byte big-endian length, message."""
    out = b""
    for request in requests:
        body = request.SerializeToString()
        out += len(body).to_bytes(4, "big") + body
    return out


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def run_ingest(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["ingest", *args])
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout carries data only; ingest has none
    return code, captured.err


FORMATS = {
    "json lines": lambda a, b: ("spans.jsonl", jsonl(a, b)),
    "json lines with blank lines and CRLF": lambda a, b: (
        "spans.jsonl",
        b"\r\n" + otlp_json(a) + b"\r\n\r\n" + otlp_json(b) + b"\r\n",
    ),
    "pretty otlp/json document": lambda a, b: (
        "request.json",
        otlp_json(_merged(a, b), indent=2, upper_ids=True),
    ),
    "protobuf body": lambda a, b: ("request.pb", _merged(a, b).SerializeToString()),
    "gzip protobuf body": lambda a, b: (
        "request.pb.gz",
        gzip.compress(_merged(a, b).SerializeToString()),
    ),
    "collector length-prefixed proto": lambda a, b: ("spans.proto", length_prefixed(a, b)),
    "gzip json lines": lambda a, b: ("spans.jsonl.gz", gzip.compress(jsonl(a, b))),
    "gzip collector proto": lambda a, b: ("spans.proto.gz", gzip.compress(length_prefixed(a, b))),
    "gzip without the extension": lambda a, b: ("spans.jsonl", gzip.compress(jsonl(a, b))),
}


def _merged(
    a: ExportTraceServiceRequest, b: ExportTraceServiceRequest
) -> ExportTraceServiceRequest:
    merged = ExportTraceServiceRequest()
    merged.CopyFrom(a)
    merged.resource_spans.extend(b.resource_spans)
    return merged


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_file_format_is_ingested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    a, b = fresh_request(), fresh_request(service="shop-rq-worker")
    name, data = FORMATS[fmt](a, b)
    path = write(tmp_path / name, data)
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, str(path), "--db", str(db))
    assert code == 0, err
    assert err.startswith(f"12 spans stored in {db} from ")
    assert stored_ids(db) == ids_of(a) | ids_of(b)
    services = {r["ServiceName"] for r in rows_in(db)}
    assert services == {"shop-celery-worker", "shop-rq-worker"}


def test_the_specification_example_document_is_ingested_with_its_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, str(SPEC_EXAMPLE), "--db", str(db))
    assert code == 0, err
    (row,) = rows_in(db)
    assert (row["TraceId"], row["SpanId"], row["ParentSpanId"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert (row["SpanName"], row["SpanKind"], row["ServiceName"]) == (
        "I'm a server span",
        "Server",
        "my.service",
    )
    assert (row["Timestamp"], row["Duration"]) == (1544712660000000000, 1_000_000_000)
    assert row["SpanAttributes"] == {"my.span.attr": "some value"}


def test_several_files_go_into_one_store_and_a_second_run_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = fresh_request(), fresh_request(), fresh_request()
    files = [
        str(write(tmp_path / "a.jsonl", jsonl(a))),
        str(write(tmp_path / "b.proto", length_prefixed(b))),
        str(write(tmp_path / "c.jsonl.gz", gzip.compress(jsonl(c)))),
    ]
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, *files, "--db", str(db))
    assert (code, err.splitlines()[0]) == (
        0,
        f"18 spans stored in {db} from 3 requests in 3 file(s); 0 duplicates skipped; "
        "0 spans and 0 lines rejected",
    )
    code, err = run_ingest(capsys, *files, "--db", str(db))
    assert (code, err.splitlines()[0]) == (
        0,
        f"0 spans stored in {db} from 3 requests in 3 file(s); 18 duplicates skipped; "
        "0 spans and 0 lines rejected",
    )
    assert stored_ids(db) == ids_of(a) | ids_of(b) | ids_of(c)


def test_bad_lines_are_named_and_skipped_and_the_good_ones_stored_with_exit_code_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [fresh_request() for _ in range(4)]
    lines = [
        otlp_json(good[0]),
        otlp_json(good[1]),
        b'{"resourceSpans": [ this is not json }',  # line 3
        otlp_json(good[2]),
        b'{"resourceSpans": {"not": "a list"}}',  # line 5
        otlp_json(good[3]),
    ]
    path = write(tmp_path / "mixed.jsonl", b"\n".join(lines) + b"\n")
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, str(path), "--db", str(db))
    assert code == 3
    assert err.splitlines() == [
        f"24 spans stored in {db} from 4 requests in 1 file(s); 0 duplicates skipped; "
        "0 spans and 2 lines rejected",
        f"  {path}:3: body is not valid JSON: Expecting value: line 1 column 21 (char 20)",
        f"  {path}:5: request.resourceSpans must be a list",
    ]
    assert stored_ids(db) == set().union(*(ids_of(r) for r in good))


def test_rejected_spans_are_named_by_line_and_give_exit_code_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = fresh_request(), fresh_request()
    valid = ids_of(a) | ids_of(b)
    path = write(tmp_path / "spans.jsonl", jsonl(a, with_invalid_spans(b)))
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, str(path), "--db", str(db))
    assert code == 3
    assert f"  {path}:2: span 'short-trace-id': trace id must be 16 bytes" in err
    assert f"  {path}:2: span 'zero-span-id': span id must be 8 bytes" in err
    assert stored_ids(db) == valid


def test_an_undecodable_protobuf_file_is_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "broken.pb", b"\xff\xff\xff\xff")
    code, err = run_ingest(capsys, str(path), "--db", str(tmp_path / "auditor.duckdb"))
    assert code == 3
    assert err.startswith(f"audit: error: {path}: body is not a valid ExportTraceServiceRequest")


def test_a_truncated_length_prefixed_file_is_unreadable_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = length_prefixed(fresh_request(), fresh_request())
    path = write(tmp_path / "spans.proto", data[:-5])
    code, err = run_ingest(capsys, str(path), "--db", str(tmp_path / "auditor.duckdb"))
    assert (code, err) == (3, f"audit: error: {path}: message 2 is truncated\n")


def test_stdin_is_read_for_a_dash(tmp_path: Path) -> None:
    a, b = fresh_request(), fresh_request()
    db = tmp_path / "auditor.duckdb"
    result = subprocess.run(
        [AUDIT, "ingest", "-", "--db", str(db)],
        input=gzip.compress(jsonl(a, b)),
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert result.stderr.decode().startswith(
        f"12 spans stored in {db} from 2 requests in 1 file(s)"
    )
    assert stored_ids(db) == ids_of(a) | ids_of(b)


def test_bad_lines_on_stdin_are_named_by_stdin_line(tmp_path: Path) -> None:
    db = tmp_path / "auditor.duckdb"
    result = subprocess.run(
        [AUDIT, "ingest", "-", "--db", str(db)],
        input=jsonl(fresh_request()) + b"nope}\n",
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert "  <stdin>:2: body is not valid JSON" in result.stderr.decode()


def test_a_missing_file_is_exit_code_3_with_one_error_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    result = subprocess.run(
        [AUDIT, "ingest", str(missing), "--db", str(tmp_path / "auditor.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == f"audit: error: cannot read {missing}: No such file or directory\n"


def test_a_span_file_given_as_the_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # swapped arguments: `audit ingest --db traces.jsonl other.jsonl`
    traces = write(tmp_path / "traces.jsonl", jsonl(fresh_request()))
    other = write(tmp_path / "other.jsonl", jsonl(fresh_request()))
    before = traces.read_bytes()
    code, err = run_ingest(capsys, str(other), "--db", str(traces))
    assert traces.read_bytes() == before
    assert code == 3, err
    assert err.startswith("audit: error: ")


def test_a_truncated_first_line_does_not_lose_the_good_lines_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [fresh_request() for _ in range(3)]
    cut = otlp_json(fresh_request())[:40]  # e.g. the tail of a file that was cut at the front
    path = write(tmp_path / "spans.jsonl", b"\n".join([cut, *map(otlp_json, good)]) + b"\n")
    db = tmp_path / "auditor.duckdb"
    code, err = run_ingest(capsys, str(path), "--db", str(db))
    assert code == 3
    assert f"  {path}:1: " in err
    assert stored_ids(db) == set().union(*(ids_of(r) for r in good))
