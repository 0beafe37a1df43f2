"""``audit serve``: OTLP receivers + store + continuous evaluation (``auditor.server``).

Every flag but ``--config`` is a setting of ``auditor.config.Settings``: its name, help,
placeholder and default text come from there, and ``load_settings`` applies the precedence
(defaults ← ``audit.yaml`` ← ``AUDIT_*`` ← these flags). Nothing here has a default of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from auditor import logs
from auditor.config import (
    DEFAULT_FILE,
    LOG_FORMATS,
    LOG_LEVELS,
    flag_help,
    load_settings,
    serve_store_path,
    source_of,
)
from auditor.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def _flag(name: str) -> Any:
    """The flag of setting ``name``; its default is None so that "not given" can be told."""
    source = source_of(name)
    return typer.Option(
        None, source.flag, help=flag_help(name), metavar=source.metavar, show_default=False
    )


STORE = _flag("store")
HOST = _flag("host")
HTTP_PORT = _flag("http_port")
GRPC_PORT = _flag("grpc_port")
RULES = _flag("rules")
RECORD = _flag("record")
MAX_BODY_SIZE = _flag("max_body_size")
MAX_PENDING_SPANS = _flag("max_pending_spans")
BODY_TIMEOUT = _flag("body_timeout_s")
DECODE_WORKERS = _flag("decode_workers")
TOKEN = _flag("token")
TLS_CERT = _flag("tls_cert")
TLS_KEY = _flag("tls_key")
EVALUATION_INTERVAL = _flag("evaluation_interval_s")
LOG_LEVEL = _flag("log_level")
LOG_FORMAT = _flag("log_format")
RETENTION = _flag("retention_s")
CONFIG = typer.Option(
    None,
    "--config",
    metavar="FILE",
    help=f"Configuration file.  [default: ./{DEFAULT_FILE} when present]",
    show_default=False,
)


def serve_command(
    db: Path | None = STORE,
    host: str | None = HOST,
    http_port: int | None = HTTP_PORT,
    grpc_port: int | None = GRPC_PORT,
    rules: list[Path] | None = RULES,
    config: Path | None = CONFIG,
    record: Path | None = RECORD,
    max_body_size: int | None = MAX_BODY_SIZE,
    max_pending_spans: int | None = MAX_PENDING_SPANS,
    body_timeout: str | None = BODY_TIMEOUT,
    decode_workers: int | None = DECODE_WORKERS,
    token: str | None = TOKEN,
    tls_cert: Path | None = TLS_CERT,
    tls_key: Path | None = TLS_KEY,
    evaluation_interval: str | None = EVALUATION_INTERVAL,
    log_level: str | None = LOG_LEVEL,
    log_format: str | None = LOG_FORMAT,
    retention: str | None = RETENTION,
    backend: str | None = typer.Option(
        None,
        "--backend",
        metavar="URL",
        help="The store as a URL instead of --db: duckdb:///path/auditor.duckdb. "
        "(ClickHouse URLs are accepted by audit scan and audit ingest; serve refuses them.)",
    ),
) -> None:
    """Receive OTLP spans (acknowledged after commit), evaluate the rules continuously, send
    alerts, and answer the HTTP API."""
    if log_level is not None and log_level.lower() not in LOG_LEVELS:
        raise UsageError(f"--log-level {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    if log_format is not None and log_format.lower() not in LOG_FORMATS:
        raise UsageError(f"--log-format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    if backend is not None:
        if db is not None:
            raise UsageError("give --db PATH or --backend URL, not both")
        db = Path(serve_store_path(backend, "--backend"))
    settings = load_settings(
        config,
        store=db,
        host=host,
        http_port=http_port,
        grpc_port=grpc_port,
        rules=rules,
        record=record,
        max_body_size=max_body_size,
        max_pending_spans=max_pending_spans,
        body_timeout_s=body_timeout,
        decode_workers=decode_workers,
        token=token,
        tls_cert=tls_cert,
        tls_key=tls_key,
        evaluation_interval_s=evaluation_interval,
        log_level=None if log_level is None else log_level.lower(),
        log_format=None if log_format is None else log_format.lower(),
        retention_s=retention,
    )
    logs.configure(settings.log_level, settings.log_format)
    from auditor.server import serve  # the server's dependencies load only to serve

    asyncio.run(serve(settings))
