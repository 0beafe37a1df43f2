"""The API's aiohttp side: the bearer token (401 shapes for the API and for OTLP, open
probes), endpoint labels that stay few, and forwarding."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.rpc import status_pb2

from auditor.api.frontend import add_routes, authorized, endpoint_label, middlewares
from auditor.api.metrics import Latencies
from auditor.api.wire import ApiRequest, ApiResponse


def test_authorized() -> None:
    assert authorized(None, "")
    assert authorized("Bearer t0k", "t0k")
    assert authorized("bearer   t0k ", "t0k")
    assert not authorized(None, "t0k")
    assert not authorized("t0k", "t0k")
    assert not authorized("Basic t0k", "t0k")
    assert not authorized("Bearer t0k2", "t0k")
    assert not authorized("Bearer é", "t0k")


def test_endpoint_labels() -> None:
    assert endpoint_label("/api/v1/findings") == "/api/v1/findings"
    assert endpoint_label("/api/v1/findings/abc") == "/api/v1/findings/{fingerprint}"
    assert endpoint_label("/api/v1/findings/abc/triage") == "/api/v1/findings/{fingerprint}/triage"
    assert endpoint_label("/v1/traces") == "/v1/traces"
    assert endpoint_label("/api/v1/findings/") == "/api/v1/findings"  # as routed
    assert endpoint_label("/anything/else") == "other"


def _run(token: str, requests: list[tuple[str, str, dict[str, str]]]) -> list[Any]:
    seen: list[ApiRequest] = []
    latencies = Latencies()

    async def forward(request: ApiRequest) -> ApiResponse:
        seen.append(request)
        return ApiResponse.json(200, {"path": request.path}, {"X-Seen": "1"})

    async def otlp(request: web.Request) -> web.Response:
        return web.Response(text="stored")

    async def main() -> list[Any]:
        app = web.Application(middlewares=middlewares(token, latencies))
        app.router.add_post("/v1/traces", otlp)
        app.router.add_get("/healthz", otlp)
        add_routes(app, forward)
        answers = []
        async with TestClient(TestServer(app)) as client:
            for method, path, headers in requests:
                response = await client.request(method, path, headers=headers)
                answers.append((response.status, dict(response.headers), await response.read()))
        return answers

    answers = asyncio.run(main())
    return [answers, seen, latencies.snapshot()]


def test_the_token_is_asked_of_all_but_the_probes() -> None:
    auth = {"Authorization": "Bearer t0k"}
    answers, seen, timings = _run(
        "t0k",
        [
            ("GET", "/api/v1/findings?state=open&state=pending", {}),
            ("GET", "/api/v1/findings?state=open&state=pending", auth),
            ("POST", "/v1/traces", {"Content-Type": "application/json"}),
            ("POST", "/v1/traces", {}),
            ("POST", "/v1/traces", auth),
            ("GET", "/healthz", {}),
            ("GET", "/readyz", {}),
            ("GET", "/metrics", {}),
        ],
    )
    statuses = [a[0] for a in answers]
    assert statuses == [401, 200, 401, 401, 200, 200, 200, 401]
    assert json.loads(answers[0][2]) == {"error": "missing or wrong bearer token"}
    assert answers[0][1]["WWW-Authenticate"] == "Bearer"
    assert json.loads(answers[2][2])["code"] == 16  # UNAUTHENTICATED, as JSON
    status = status_pb2.Status.FromString(answers[3][2])  # protobuf by default
    assert status.code == 16
    assert answers[1][1]["X-Seen"] == "1"
    assert [(r.path, r.query) for r in seen] == [
        ("/api/v1/findings", (("state", "open"), ("state", "pending"))),
        ("/readyz", ()),
    ]
    assert timings[("http", "/api/v1/findings", "401")][-1] > 0
    assert sum(timings[("http", "/v1/traces", "401")][:-1]) == 2


def test_without_a_token_everything_is_open() -> None:
    answers, _, _ = _run("", [("GET", "/metrics", {}), ("GET", "/api/v1/x\ny", {})])
    assert [a[0] for a in answers] == [200, 200]
