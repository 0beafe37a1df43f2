"""TLS for ``audit serve``'s listeners, from a certificate file and its private key (PEM).

One pair serves both ports: OTLP/HTTP with the API (an ``ssl.SSLContext`` for aiohttp) and
OTLP/gRPC (``grpc.ssl_server_credentials``). ``check`` loads the pair once in the store process
before anything listens, so a missing file, a key that does not match its certificate or a
file that is not PEM stops the start with one clear line rather than a worker's traceback.
Front-end workers get the paths (``TlsFiles`` pickles; an SSL context does not) and load them
again. Without a pair the listeners speak plain text, as before.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from auditor.errors import ConfigError


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def pair(cert: Path | None, key: Path | None) -> TlsFiles | None:
    """The pair from the settings; one without the other is an error."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if cert else ("--tls-key", "--tls-cert")
        raise ConfigError(f"{given} needs {missing} as well (tls.cert and tls.key in audit.yaml)")
    return TlsFiles(cert, key)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the TLS {what} {path}: {exc.strerror or exc}") from None


def http_context(files: TlsFiles) -> ssl.SSLContext:
    """A server context for aiohttp: TLS 1.2 or later, the pair loaded."""
    _read(files.cert, "certificate")  # a clear message for an unreadable file
    _read(files.key, "key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(files.cert, files.key)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"the TLS certificate {files.cert} and key {files.key} cannot be used together "
            f"(both PEM, the key unencrypted and matching the certificate): {exc.reason or exc}"
        ) from None
    return context


def grpc_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(_read(files.key, "key"), _read(files.cert, "certificate"))]
    )


def check(files: TlsFiles | None) -> None:
    """Raise ``ConfigError`` unless the pair loads (done once, before listening)."""
    if files is not None:
        http_context(files)
