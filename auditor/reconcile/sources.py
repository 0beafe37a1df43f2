"""Where rows come from: a PostgreSQL query (psycopg 3) or an HTTP status endpoint (httpx).

Each source returns ``(columns, rows)``. Expected failures become ``auditor.errors``: an
unreachable server or a bad answer is ``InputError`` (exit 3), a query or an answer of the
wrong shape is ``UsageError`` (exit 2). Passwords in DSNs never reach a message.
"""

from __future__ import annotations

import re
from typing import Any

from auditor.errors import InputError, UsageError

Rows = tuple[list[str], list[dict[str, Any]]]


def redact(dsn: str) -> str:
    """The DSN without its password (URL form and key=value form)."""
    dsn = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", dsn)
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", dsn, flags=re.IGNORECASE)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def sql_rows(dsn: str, query: str, timeout: float = 10.0) -> Rows:
    """Run ``query`` in a read-only transaction; rows as dicts keyed by column name."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn = psycopg.connect(dsn, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        raise InputError(
            f"cannot connect to PostgreSQL at {redact(dsn)}: {_first_line(exc)}"
        ) from None
    except Exception as exc:  # a malformed DSN is psycopg.ProgrammingError or ValueError
        raise UsageError(
            f"--dsn {redact(dsn)!r} is not a PostgreSQL DSN: {_first_line(exc)}"
        ) from None
    try:
        conn.read_only = True  # a reconciler only reads the system of record
        with conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(query.encode())
            if cursor.description is None:
                raise UsageError("the --query returned no rows (use a SELECT)")
            columns = [d.name for d in cursor.description]
            rows = list(cursor.fetchall())
        conn.rollback()
    except psycopg.OperationalError as exc:
        raise InputError(f"PostgreSQL at {redact(dsn)} failed: {_first_line(exc)}") from None
    except psycopg.Error as exc:
        message = getattr(getattr(exc, "diag", None), "message_primary", None) or _first_line(exc)
        raise UsageError(f"the --query failed: {message}") from None
    finally:
        conn.close()
    return columns, rows


def _items(document: Any, path: str | None, url: str) -> list[Any]:
    if path:
        for part in path.split("."):
            if not isinstance(document, dict) or part not in document:
                raise UsageError(f"the answer of {url} has no {path!r} (--items)")
            document = document[part]
    if not isinstance(document, list):
        where = f"{path!r} in the answer" if path else "the answer"
        raise UsageError(
            f"{where} of {url} is not a JSON list of objects"
            + ("" if path else " (name the list with --items, e.g. --items data.sent)")
        )
    return document


def http_rows(
    url: str, items: str | None = None, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> Rows:
    """GET ``url``; the JSON list (at ``items``, a dotted path) of objects is the rows."""
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise InputError(f"cannot GET {url}: {_first_line(exc) or type(exc).__name__}") from None
    if response.status_code >= 400:
        raise InputError(f"GET {url} answered {response.status_code} {response.reason_phrase}")
    try:
        document = response.json()
    except ValueError:
        raise InputError(f"GET {url} did not answer JSON") from None
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    for item in _items(document, items, url):
        if not isinstance(item, dict):
            raise UsageError(f"an item of {url} is {type(item).__name__}, not a JSON object")
        rows.append(item)
        columns.extend(k for k in item if k not in columns)
    return columns, rows
