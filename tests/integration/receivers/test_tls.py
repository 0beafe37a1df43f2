"""``audit serve --tls-cert --tls-key``: both OTLP receivers and the API speak TLS only.

Real TLS clients: the official OTLP exporters (HTTP with ``certificate_file``, gRPC with SSL
channel credentials) and httpx, trusting a self-signed certificate made for 127.0.0.1 with the
openssl command. A plain-text client is refused on both ports, and a bad certificate pair
stops the start with one line and exit 2.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.integration.alerts.fakes import self_signed_certificate
from tests.integration.receivers.capture import SPANS, sdk_spans
from tests.integration.receivers.conftest import AUDIT, start_server, stop_cleanly

pytestmark = pytest.mark.integration

TOKEN = "tls-test-token-5b1f"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


# 0: the receivers run in the store process; 1: in a front-end worker process.
@pytest.mark.parametrize("workers", ["0", "1"])
def test_the_official_exporters_and_the_api_speak_tls(
    tmp_path: Path, certificate: tuple[Path, Path], workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    # requests (under the HTTP exporter) lets these variables override certificate_file
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    server = start_server(
        tmp_path,
        "--tls-cert", str(cert), "--tls-key", str(key), "--token", TOKEN,
        "--decode-workers", workers,
        ca=cert,
    )  # fmt: skip
    try:
        assert f"OTLP/HTTP on https://127.0.0.1:{server.http_port}/v1/traces" in server.output()
        assert f"OTLP/gRPC on 127.0.0.1:{server.grpc_port} (TLS)" in server.output()
        spans = sdk_spans()
        half = len(spans) // 2
        http = HttpSpanExporter(
            endpoint=server.url,
            certificate_file=str(cert),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        grpc_exporter = GrpcSpanExporter(
            endpoint=server.grpc_target,
            insecure=False,
            credentials=grpc.ssl_channel_credentials(root_certificates=cert.read_bytes()),
            headers=(("authorization", f"Bearer {TOKEN}"),),
            timeout=10,
        )
        for exporter, part in ((http, spans[:half]), (grpc_exporter, spans[half:])):
            try:
                assert exporter.export(part) == SpanExportResult.SUCCESS
            finally:
                exporter.shutdown()

        api = httpx.get(
            f"{server.base}/api/v1/findings",
            headers={"Authorization": f"Bearer {TOKEN}"},
            verify=str(cert),
            timeout=10,
        )
        assert api.status_code == 200, api.text
        # TLS does not replace the token
        assert httpx.get(f"{server.base}/api/v1/findings", verify=str(cert)).status_code == 401

        # Plain text is not answered on either port.
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.http_port}/healthz", timeout=5)
        plain = GrpcSpanExporter(endpoint=server.grpc_target, insecure=True, timeout=3)
        try:
            assert plain.export(spans[:1]) == SpanExportResult.FAILURE
        finally:
            plain.shutdown()
    finally:
        stop_cleanly(server)
    assert server.query("SELECT count(*) FROM otel_traces") == [(SPANS,)]


def test_a_bad_certificate_pair_stops_the_start_with_one_line(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    other_cert, _ = self_signed_certificate(tmp_path)  # another key's certificate
    cases = {
        "missing": (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)], "nope.pem"),
        "mismatched": (["--tls-cert", str(other_cert), "--tls-key", str(key)], "cannot be used"),
        "half": (["--tls-cert", str(cert)], "--tls-cert needs --tls-key"),
    }
    for args, expected in cases.values():
        done = subprocess.run(
            [AUDIT, "serve", "--db", str(tmp_path / "x.duckdb"), "--http-port", "0",
             "--grpc-port", "0", *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
