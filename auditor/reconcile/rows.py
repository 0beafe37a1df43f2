"""A row of the system of record → one confirmation. Pure: no I/O.

A row is a mapping of column names to values. ``Columns`` names the columns that hold the
confirmation's key (``side_effect.key``), job id (``job.id``), optional time of the effect
and status. The identity of a confirmation — what the state file remembers — is
``(effect, key, job id)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditor.errors import UsageError
from probes import semconv


@dataclass(frozen=True)
class Columns:
    """Which columns mean what (flags ``--key-column``, ``--job-id-column``, …)."""

    effect: str
    key_column: str = "key"
    job_id_column: str = "job_id"
    time_column: str | None = None
    status_column: str | None = None
    system: str | None = None
    attribute_columns: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Confirmation:
    identity: str
    attributes: dict[str, Any]
    #: when the effect happened (ns since the epoch), when the row says so
    time_ns: int | None
    ok: bool


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _time_ns(value: Any, column: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1e9)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 1e11 else float(value)  # ms or s
        return int(seconds * 1e9)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"column {column!r} holds {value!r}, which is not a time "
            "(use a timestamp, ISO 8601 text or epoch seconds)"
        ) from None
    return _time_ns(moment, column)


_OK = {"ok", "true", "1", "sent", "done", "success", "succeeded", "delivered", "captured"}


def check_columns(columns: Sequence[str], mapping: Columns) -> None:
    """Raise ``UsageError`` when the rows lack the columns the mapping needs."""
    have = set(columns)
    if mapping.key_column not in have and mapping.job_id_column not in have:
        raise UsageError(
            f"the rows have neither the key column {mapping.key_column!r} nor the job id column "
            f"{mapping.job_id_column!r}; columns are: {', '.join(columns) or '(none)'} "
            "(choose with --key-column / --job-id-column)"
        )
    for flag, column in (
        ("--time-column", mapping.time_column),
        ("--status-column", mapping.status_column),
        *(("--attribute", c) for c in mapping.attribute_columns),
    ):
        if column is not None and column not in have:
            raise UsageError(
                f"{flag} {column!r} is not a column of the rows; columns are: {', '.join(columns)}"
            )


def confirmation(row: Mapping[str, Any], mapping: Columns) -> Confirmation | None:
    """The confirmation a row stands for; None when it has neither key nor job id."""
    key = _text(row.get(mapping.key_column))
    job_id = _text(row.get(mapping.job_id_column))
    if key is None and job_id is None:
        return None
    attributes: dict[str, Any] = {semconv.SIDE_EFFECT_NAME: mapping.effect}
    if key is not None:
        attributes[semconv.SIDE_EFFECT_KEY] = key
    if job_id is not None:
        attributes[semconv.JOB_ID] = job_id
    if mapping.system:
        attributes[semconv.JOB_SYSTEM] = mapping.system
    for column in mapping.attribute_columns:
        value = _text(row.get(column))
        if value is not None:
            attributes[f"reconcile.{column}"] = value
    ok = True
    if mapping.status_column is not None:
        ok = (_text(row.get(mapping.status_column)) or "").lower() in _OK
    attributes[semconv.SIDE_EFFECT_STATUS] = "ok" if ok else "error"
    # a failed verification that later succeeds is a second, different confirmation
    identity = "\x1f".join([mapping.effect, key or "", job_id or "", "" if ok else "error"])
    time_ns = None
    if mapping.time_column is not None:
        time_ns = _time_ns(row.get(mapping.time_column), mapping.time_column)
    return Confirmation(identity, attributes, time_ns, ok)


def span_ids(identity: str) -> tuple[int, int]:
    """Trace and span id derived from the identity: a re-sent confirmation is the same span,
    which the store keeps once (docs/design.md: one span per (TraceId, SpanId))."""
    digest = hashlib.sha256(identity.encode()).digest()
    trace_id = int.from_bytes(digest[:16], "big") or 1
    span_id = int.from_bytes(digest[16:24], "big") or 1
    return trace_id, span_id
