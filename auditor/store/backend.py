"""Where spans live: the ``--backend`` URL (and ``store:`` in audit.yaml), parsed.

Three forms (docs/clickhouse.md):

- ``duckdb:///path/to/auditor.duckdb`` (the default, embedded; a plain path means the same);
- ``chdb:///path/to/dir``: ClickHouse embedded in the process (chDB), a folder of its own;
- ``clickhouse://[user[:password]@]host[:port]/database``: a ClickHouse server over HTTP
  (clickhouse-connect); port 8123 and database ``default`` when left out. ``clickhouses://``
  is the same over TLS (port 8443).

Pure: parsing only. Opening a backend is ``store.clickhouse`` (and ``store.duck``); the
ClickHouse drivers are an optional extra (``auditor[clickhouse]``), so nothing here imports
them. Every problem is a ``UsageError`` that names the URL without its password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from auditor.errors import UsageError

SCHEMES = ("duckdb", "chdb", "clickhouse", "clickhouses")
EXAMPLES = "duckdb:///path/auditor.duckdb, chdb:///path/dir or clickhouse://host:8123/db"


@dataclass(frozen=True)
class Backend:
    scheme: str  # duckdb | chdb | clickhouse | clickhouses
    path: str = ""  # duckdb: the store file; chdb: its folder
    host: str = ""
    port: int = 0
    database: str = "default"
    user: str = "default"
    password: str = ""

    @property
    def is_clickhouse(self) -> bool:
        """Evaluated over ClickHouse's ``otel_traces`` (chDB or a server), not DuckDB."""
        return self.scheme != "duckdb"

    @property
    def secure(self) -> bool:
        return self.scheme == "clickhouses"

    def __str__(self) -> str:
        """The URL as a person may see it: never the password."""
        if self.scheme in ("duckdb", "chdb"):
            return f"{self.scheme}://{self.path}" if self.path.startswith("/") else self.path
        who = f"{self.user}@" if self.user != "default" else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}/{self.database}"


def duckdb_backend(path: str | Path) -> Backend:
    return Backend("duckdb", path=str(path))


def parse_backend(text: str) -> Backend:
    """The backend a ``--backend`` / ``store:`` value names; a value without ``scheme://`` is
    a DuckDB store file (``--db`` and ``store:`` always took one)."""
    text = text.strip()
    if not text:
        raise UsageError(f"--backend is empty; give one of {EXAMPLES}")
    if "://" not in text:
        return duckdb_backend(text)
    scheme = text.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise UsageError(
            f"--backend {scheme}://…: unknown kind of store {scheme!r}; use {EXAMPLES}"
        )
    if scheme in ("duckdb", "chdb"):
        path = unquote(text.split("://", 1)[1])
        if not path:
            what = "store file" if scheme == "duckdb" else "folder"
            raise UsageError(f"--backend {scheme}:// needs a path to its {what}: {scheme}:///path")
        if scheme == "chdb" and path == ":memory:":
            raise UsageError("--backend chdb:// needs a folder (chDB keeps its tables there)")
        return Backend(scheme, path=path)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--backend {_hide_password(text)}: {exc}") from None
    if not parts.hostname:
        raise UsageError(f"--backend {_hide_password(text)}: no host; use {EXAMPLES}")
    database = parts.path.strip("/") or "default"
    if "/" in database or not database.replace("_", "").isalnum():
        raise UsageError(f"--backend {_hide_password(text)}: {database!r} is not a database name")
    if parts.query or parts.fragment:
        raise UsageError(f"--backend {_hide_password(text)}: no ?options or #fragment allowed")
    return Backend(
        scheme,
        host=parts.hostname,
        port=port or (8443 if scheme == "clickhouses" else 8123),
        database=database,
        user=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
    )


def _hide_password(text: str) -> str:
    scheme, _, rest = text.partition("://")
    who, at, where = rest.rpartition("@")
    if not at or ":" not in who:
        return text
    return f"{scheme}://{who.split(':', 1)[0]}:***@{where}"
