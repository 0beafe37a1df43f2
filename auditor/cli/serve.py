"""``audit serve``: OTLP receivers + store (+ continuous evaluation, alerts and API later)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

from auditor.server import ServeOptions, serve


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    db: Path = typer.Option(
        Path("auditor.duckdb"), "--db", envvar="AUDIT_STORE", help="DuckDB store file."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", envvar="AUDIT_HOST", help="Address to listen on."
    ),
    http_port: int = typer.Option(
        4318, "--http-port", envvar="AUDIT_HTTP_PORT", help="OTLP/HTTP port (0: any free port)."
    ),
    grpc_port: int = typer.Option(
        4317, "--grpc-port", envvar="AUDIT_GRPC_PORT", help="OTLP/gRPC port (0: any free port)."
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", help="Rule files or folders, added to the built-in profiles and packs."
    ),
    config: Path | None = typer.Option(None, "--config", help="audit.yaml configuration file."),
    record: Path | None = typer.Option(
        None, "--record", help="Also append every accepted request to this OTLP JSON-lines file."
    ),
    max_body_size: int = typer.Option(
        64 * 1024 * 1024,
        "--max-body-size",
        help="Largest request body in bytes, compressed or not.",
    ),
    decode_workers: int | None = typer.Option(
        None,
        "--decode-workers",
        help="Processes decoding OTLP (default: one per core; 0 decodes in the server process).",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Receive OTLP spans on gRPC and HTTP and store them; answer only after commit."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    options = ServeOptions(
        db=db,
        host=host,
        http_port=http_port,
        grpc_port=grpc_port,
        body_limit=max_body_size,
        decode_workers=decode_workers,
        record=record,
        rules=list(rules),
    )
    asyncio.run(serve(options))
