"""``audit serve``: OTLP receivers + store (+ continuous evaluation, alerts and API later).

Settings come from defaults ← ``audit.yaml`` (``--config``) ← ``AUDIT_*`` ← these flags.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

from auditor.config import load_settings
from auditor.errors import UsageError
from auditor.rules.durations import DurationError, parse_duration
from auditor.server import ServeOptions, serve


def _duration(text: str) -> float:
    try:
        return parse_duration(text, "--evaluation-interval")
    except DurationError as exc:
        raise UsageError(str(exc)) from None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    db: Path | None = typer.Option(
        None, "--db", help="DuckDB store file [default: ./auditor.duckdb; AUDIT_STORE]."
    ),
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on [default: 127.0.0.1; AUDIT_HOST]."
    ),
    http_port: int | None = typer.Option(
        None,
        "--http-port",
        help="OTLP/HTTP port, 0 for any free one [default: 4318; AUDIT_HTTP_PORT].",
    ),
    grpc_port: int | None = typer.Option(
        None,
        "--grpc-port",
        help="OTLP/gRPC port, 0 for any free one [default: 4317; AUDIT_GRPC_PORT].",
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", help="Rule files or folders, added to the built-in profiles and packs."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Configuration file [default: ./audit.yaml when present]."
    ),
    record: Path | None = typer.Option(
        None, "--record", help="Also append every accepted request to this OTLP JSON-lines file."
    ),
    max_body_size: int | None = typer.Option(
        None,
        "--max-body-size",
        help="Largest request body in bytes, compressed or inflated [default: 64 MiB].",
    ),
    max_pending_spans: int | None = typer.Option(
        None,
        "--max-pending-spans",
        help="Spans waiting for a commit before requests get 429 / RESOURCE_EXHAUSTED [default: 250000].",
    ),
    decode_workers: int | None = typer.Option(
        None,
        "--decode-workers",
        help="Front-end worker processes receiving and decoding OTLP [default: one per core; 0: receive in the store process].",
    ),
    evaluation_interval: str | None = typer.Option(
        None,
        "--evaluation-interval",
        help="How often to re-evaluate the rules, e.g. 10s; 0 turns it off [default: 10s].",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Receive OTLP spans on gRPC and HTTP and store them; answer only after commit."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(
        config,
        store=db,
        host=host,
        http_port=http_port,
        grpc_port=grpc_port,
        rules=rules,
        max_body_size=max_body_size,
        max_pending_spans=max_pending_spans,
        decode_workers=decode_workers,
        evaluation_interval_s=None
        if evaluation_interval is None
        else _duration(evaluation_interval),
    )
    options = ServeOptions(
        db=settings.store,
        host=settings.host,
        http_port=settings.http_port,
        grpc_port=settings.grpc_port,
        body_limit=settings.max_body_size,
        decode_workers=settings.decode_workers,
        max_pending_spans=settings.max_pending_spans,
        record=record,
        rules=list(settings.rules),
        evaluation_interval_s=settings.evaluation_interval_s,
        grace_s=settings.grace_s,
        log_level=logging.getLevelName(log_level.upper()),
    )
    asyncio.run(serve(options))
