"""OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf or JSON, gzip or not) and ``GET /healthz``.

The same application serves the API (``auditor.api.frontend`` adds its routes, and a bearer
token check that answers 401 with an UNAUTHENTICATED status when a token is configured).

Status codes as the OTLP specification says:

====  ===============================================================================
200   spans committed (``partial_success`` lists spans rejected one by one)
400   undecodable body; a ``google.rpc.Status`` body gives the reason
401   a token is configured and the request lacks it (``Authorization: Bearer``)
408   the body did not arrive within the body timeout (a slow client; others are not held up)
413   body, or its decompressed form, over the limit
415   content type other than ``application/x-protobuf`` / ``application/json``,
      or content encoding other than gzip
429   write queue full, with ``Retry-After`` (OTLP exporters retry)
503   shutting down, or the store failed to commit (retryable; nothing was acknowledged)
====  ===============================================================================

Bodies are read as a stream (``Content-Length`` or ``Transfer-Encoding: chunked``, which the
Node exporter sends) and cut off at the limit; aiohttp's own decompression is disabled so the
limit also holds while inflating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from auditor.otlp.batch import OtlpDecodeError
from auditor.receivers import answers
from auditor.receivers.decoding import PROTOBUF, PayloadTooLarge, UnsupportedMedia, media_type
from auditor.receivers.pipeline import Pipeline, ShuttingDown
from auditor.store.writer import Overloaded

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1


def make_app(
    pipeline: Pipeline,
    health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    middlewares: Iterable[Any] = (),
) -> web.Application:
    """The OTLP/HTTP application; ``middlewares`` wrap every route (``auditor.api.frontend``:
    the bearer token and request timing), and more routes may be added before it starts."""
    app = web.Application(client_max_size=pipeline.body_limit, middlewares=list(middlewares))
    handler = _Handler(pipeline, health)
    app.router.add_post("/v1/traces", handler.traces)
    app.router.add_get("/healthz", handler.healthz)
    return app


class _Handler:
    def __init__(self, pipeline: Pipeline, health: Any) -> None:
        self.pipeline = pipeline
        self.health = health

    async def healthz(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"status": "ok"}
        if self.health is not None:
            body.update(await self.health())
        return web.json_response(body)

    async def traces(self, request: web.Request) -> web.StreamResponse:
        try:
            media = media_type(request.headers.get("Content-Type"))
        except UnsupportedMedia as exc:
            return _status(415, answers.INVALID_ARGUMENT, str(exc), PROTOBUF)
        limit = self.pipeline.body_limit
        if request.content_length is not None and request.content_length > limit:
            return _status(
                413, answers.INVALID_ARGUMENT, f"body is over the {limit} byte limit", media
            )
        body = bytearray()
        try:
            # A client dribbling its body waits on this coroutine alone (others go on), and
            # only until the timeout.
            async with asyncio.timeout(self.pipeline.body_timeout_s or None):
                async for chunk in request.content.iter_chunked(1 << 16):
                    body += chunk
                    if len(body) > limit:
                        return _status(
                            413, answers.INVALID_ARGUMENT,
                            f"body is over the {limit} byte limit", media,
                        )  # fmt: skip
        except TimeoutError:
            seconds = f"{self.pipeline.body_timeout_s:g}"
            return _status(
                408, answers.INVALID_ARGUMENT, f"the body took longer than {seconds}s to arrive",
                media, headers={"Connection": "close"},
            )  # fmt: skip
        try:
            result = await self.pipeline.export(
                bytes(body), media, request.headers.get("Content-Encoding")
            )
        except OtlpDecodeError as exc:
            return _status(400, answers.INVALID_ARGUMENT, str(exc), media)
        except PayloadTooLarge as exc:
            return _status(413, answers.INVALID_ARGUMENT, str(exc), media)
        except UnsupportedMedia as exc:
            return _status(415, answers.INVALID_ARGUMENT, str(exc), media)
        except Overloaded as exc:
            return _status(
                429, answers.RESOURCE_EXHAUSTED, f"overloaded: {exc}", media,
                headers={"Retry-After": str(RETRY_AFTER_S)}, retry_after=RETRY_AFTER_S,
            )  # fmt: skip
        except ShuttingDown as exc:
            return _status(503, answers.UNAVAILABLE, str(exc), media, headers={"Retry-After": "1"})
        except Exception as exc:  # the store failed: say so, acknowledge nothing
            log.error("export failed: %s", exc)  # the store's process logged the cause
            return _status(
                503, answers.UNAVAILABLE, answers.store_failure(exc), media,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )  # fmt: skip
        response = answers.export_response(result.rejected, result.error_message)
        return web.Response(status=200, body=answers.encode(response, media), content_type=media)


def _status(
    http_status: int,
    code: int,
    message: str,
    media: str,
    headers: dict[str, str] | None = None,
    retry_after: int | None = None,
) -> web.Response:
    status = answers.rpc_status(code, message, retry_after)
    return web.Response(
        status=http_status,
        body=answers.encode(status, media),
        content_type=media,
        headers=headers,
    )
