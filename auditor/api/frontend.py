"""The API's aiohttp side, in the process that receives a request: the bearer token, timing,
and forwarding to the store process.

``middlewares(token, latencies)`` go on the OTLP/HTTP application (``receivers/http.py``):

- with a token configured, every request but ``/healthz`` and ``/readyz`` needs
  ``Authorization: Bearer <token>`` (compared in constant time); without it the answer is
  401 — ``{"error": …}`` with ``WWW-Authenticate: Bearer`` for the API, a ``google.rpc.Status``
  (UNAUTHENTICATED) in the request's encoding for OTLP ``/v1/traces``;
- every request's time to answer is observed in ``latencies`` by protocol ``http``, endpoint
  (the route template, e.g. ``/api/v1/findings/{fingerprint}``; ``other`` for unknown paths,
  so that the label's values stay few) and status code.

``add_routes(app, forward)`` sends ``/api/v1/…``, ``/openapi.json``, ``/metrics`` and
``/readyz`` to ``forward`` as an ``ApiRequest`` and writes back its ``ApiResponse``;
``forward`` reaches ``service.ApiService`` in the store process (over the hub from a
front-end worker, or on a thread pool in the store process itself). ``authorized`` is the one
token check, used by the gRPC receiver too.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from auditor.api.metrics import Latencies
from auditor.api.openapi import DOCUMENT
from auditor.api.wire import ApiRequest, ApiResponse
from auditor.receivers import answers
from auditor.receivers.decoding import PROTOBUF, UnsupportedMedia, media_type

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
MAX_API_BODY = 1024 * 1024
_TEMPLATES = [
    tuple(path.strip("/").split("/")) for path in (*DOCUMENT["paths"], "/healthz", "/v1/traces")
]

Forward = Callable[[ApiRequest], Awaitable[ApiResponse]]


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` as a bearer token."""
    if not token:
        return True
    scheme, _, given = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace")
    )


def endpoint_label(path: str) -> str:
    parts = tuple(path.strip("/").split("/"))
    for template in _TEMPLATES:
        if len(template) == len(parts) and all(
            t == p or (t.startswith("{") and p) for t, p in zip(template, parts, strict=True)
        ):
            return "/" + "/".join(template)
    return "other"


def _unauthorized(request: web.Request) -> web.Response:
    message = "missing or wrong bearer token"
    if request.path == "/v1/traces":
        try:
            media = media_type(request.headers.get("Content-Type"))
        except UnsupportedMedia:
            media = PROTOBUF
        status = answers.rpc_status(answers.UNAUTHENTICATED, message)
        return web.Response(status=401, body=answers.encode(status, media), content_type=media)
    return _response(ApiResponse.error(401, message, {"WWW-Authenticate": "Bearer"}))


def middlewares(token: str, latencies: Latencies) -> list[Any]:
    @web.middleware
    async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            latencies.observe(
                "http", endpoint_label(request.path), str(status), time.perf_counter() - started
            )

    @web.middleware
    async def bearer(request: web.Request, handler: Any) -> web.StreamResponse:
        if (
            token
            and request.path not in OPEN_PATHS
            and not authorized(request.headers.get("Authorization"), token)
        ):
            return _unauthorized(request)
        response: web.StreamResponse = await handler(request)
        return response

    return [timed, bearer]


def _response(answer: ApiResponse) -> web.Response:
    return web.Response(
        status=answer.status,
        body=answer.body,
        headers={**answer.headers, "Content-Type": answer.content_type},
    )


def add_routes(app: web.Application, forward: Forward) -> None:
    async def handle(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_API_BODY:
            return _response(ApiResponse.error(400, f"the body is over {MAX_API_BODY} bytes"))
        body = await request.content.read(MAX_API_BODY + 1)
        if len(body) > MAX_API_BODY:
            return _response(ApiResponse.error(400, f"the body is over {MAX_API_BODY} bytes"))
        answer = await forward(
            ApiRequest(
                method=request.method,
                path=request.path,
                query=tuple(request.query.items()),
                body=body,
                accept=request.headers.get("Accept", ""),
            )
        )
        return _response(answer)

    for path in ("/readyz", "/openapi.json", "/metrics", r"/api/{tail:[\s\S]*}"):
        app.router.add_route("*", path, handle)
