"""A person's decisions about findings, kept in the store: triage and rule mutes.

Contract:

- ``apply_triage`` records one triage action on one finding, in one transaction: the
  finding's ``findings.triage`` changes (``acknowledge`` → ``acknowledged``,
  ``false_positive`` → ``false_positive``, ``reopen`` → ``new``; ``note`` leaves it) and a
  ``finding_notes`` row says who did what, when, and why. A transition that makes no sense
  (acknowledging a finding already acknowledged, reopening a new one) raises
  ``TriageConflict`` and changes nothing; so does an update that keeps colliding with the
  evaluation loop's writes after a few retries. An unknown fingerprint raises
  ``NoSuchFinding``. The evaluation never overwrites ``findings.triage``
  (``store/findings.py``), so a decision outlives every later evaluation.
- ``mute_rule`` / ``unmute_rule``: while a rule is muted (``rule_mutes``, until a time), its
  findings that are ``new`` or ``acknowledged`` read as ``muted``; a ``false_positive``
  stays what it is. A new mute replaces the rule's current one. Nothing is deleted: ending a
  mute sets its ``until`` to now.
- The *effective* triage (stored triage, then the mute) is defined once here, twice over:
  ``EFFECTIVE_SQL`` for queries of the ``findings`` table (the API), and ``overlay_triage``
  for the findings table an evaluation returns (``audit scan --db`` and the API's report),
  whose rows the engine makes with triage ``new``.

Times are naive UTC ``datetime`` values (the store's ``TIMESTAMP``), given by the caller's
clock.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from enum import StrEnum

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from auditor.findings.model import Triage
from auditor.findings.table import FindingTable
from auditor.store.duck import DuckStore


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    FALSE_POSITIVE = "false_positive"
    REOPEN = "reopen"
    NOTE = "note"


# the triage an action sets, and the triage it may start from
_TARGET = {
    Action.ACKNOWLEDGE: Triage.ACKNOWLEDGED,
    Action.FALSE_POSITIVE: Triage.FALSE_POSITIVE,
    Action.REOPEN: Triage.NEW,
}
_FROM = {
    Action.ACKNOWLEDGE: {Triage.NEW},
    Action.FALSE_POSITIVE: {Triage.NEW, Triage.ACKNOWLEDGED},
    Action.REOPEN: {Triage.ACKNOWLEDGED, Triage.FALSE_POSITIVE},
}
# a mute shows on findings whose stored triage is one of these
_MUTABLE = (str(Triage.NEW), str(Triage.ACKNOWLEDGED))
MUTABLE_TRIAGE = _MUTABLE  # the triage a rule's mute turns into ``muted``
NOTE_REQUIRED = (Action.FALSE_POSITIVE, Action.NOTE)

# How long an action keeps retrying a write that collides with the evaluation loop's.
_RETRIES = 20
_RETRY_PAUSE_S = 0.1


class NoSuchFinding(LookupError):
    """No finding has that fingerprint."""


class TriageConflict(Exception):
    """The action does not apply to the finding as it is now; nothing was changed."""


def _retrying(con: duckdb.DuckDBPyConnection, work: object, *args: object) -> object:
    """Run ``work(con, *args)`` in a transaction, again when a concurrent writer got there
    first (DuckDB's optimistic concurrency)."""
    for attempt in range(_RETRIES):
        con.begin()
        try:
            result = work(con, *args)  # type: ignore[operator]
            con.commit()
            return result
        except duckdb.TransactionException:
            con.rollback()
            if attempt == _RETRIES - 1:
                raise TriageConflict(
                    "the store is busy updating findings; nothing was changed, retry"
                ) from None
            time.sleep(_RETRY_PAUSE_S)
        except BaseException:
            con.rollback()
            raise
    raise AssertionError("unreachable")


def apply_triage(
    con: duckdb.DuckDBPyConnection,
    fingerprint: str,
    action: Action,
    *,
    note: str,
    author: str,
    now: datetime,
) -> Triage:
    """Record ``action`` on the finding ``fingerprint``; its stored triage afterwards."""
    if action in NOTE_REQUIRED and not note.strip():
        raise ValueError(f"{action} needs a note saying why")

    def work(con: duckdb.DuckDBPyConnection) -> Triage:
        row = con.execute(
            "SELECT triage FROM findings WHERE fingerprint = ?", [fingerprint]
        ).fetchall()
        if not row:
            raise NoSuchFinding(fingerprint)
        current = Triage(row[0][0])
        if action is Action.NOTE:
            target = current
        else:
            if current not in _FROM[action]:
                raise TriageConflict(
                    f"cannot {action.replace('_', ' ')} a finding whose triage is {current}"
                )
            target = _TARGET[action]
            con.execute(
                "UPDATE findings SET triage = ? WHERE fingerprint = ?", [str(target), fingerprint]
            )
        con.execute(
            "INSERT INTO finding_notes VALUES (?, ?, ?, ?, ?)",
            [fingerprint, now, author, None if action is Action.NOTE else str(target), note],
        )
        return target

    result = _retrying(con, work)
    assert isinstance(result, Triage)
    return result


def mute_rule(
    con: duckdb.DuckDBPyConnection,
    rule_id: str,
    seconds: float,
    *,
    author: str,
    note: str,
    now: datetime,
) -> datetime:
    """Mute ``rule_id`` for ``seconds`` from ``now`` (replacing a current mute); the end."""
    until = now + timedelta(seconds=seconds)

    def work(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "UPDATE rule_mutes SET until = ? WHERE rule_id = ? AND until > ?",
            [now, rule_id, now],
        )
        con.execute(
            "INSERT INTO rule_mutes VALUES (?, ?, ?, ?, ?)", [rule_id, now, until, author, note]
        )

    _retrying(con, work)
    return until


def unmute_rule(con: duckdb.DuckDBPyConnection, rule_id: str, *, now: datetime) -> None:
    """End the rule's current mute, if any."""

    def work(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "UPDATE rule_mutes SET until = ? WHERE rule_id = ? AND until > ?",
            [now, rule_id, now],
        )

    _retrying(con, work)


def active_mutes(con: duckdb.DuckDBPyConnection, now: datetime) -> dict[str, datetime]:
    """Each muted rule and when its mute ends."""
    rows = con.execute(
        "SELECT rule_id, max(until) FROM rule_mutes WHERE until > ? GROUP BY rule_id", [now]
    ).fetchall()
    return {str(rule_id): until for rule_id, until in rows}


# The findings table with two more columns: ``effective_triage`` (what a person sees) and
# ``muted_until`` (NULL unless the rule is muted). One parameter: now.
EFFECTIVE_SQL = f"""
SELECT f.*,
       CASE WHEN m.muted_until IS NOT NULL AND f.triage IN {_MUTABLE}
            THEN '{Triage.MUTED}' ELSE f.triage END AS effective_triage,
       m.muted_until
FROM findings AS f
LEFT JOIN (
    SELECT rule_id, max(until) AS muted_until FROM rule_mutes WHERE until > $now
    GROUP BY rule_id
) AS m USING (rule_id)
"""


def overlay_triage(
    con: duckdb.DuckDBPyConnection, findings: FindingTable, now: datetime
) -> FindingTable:
    """``findings`` (an evaluation's table) with the effective triage the store keeps for
    them, in the ``triage`` column and in each row's JSON text."""
    if not len(findings):
        return findings
    stored = con.execute(
        "SELECT fingerprint, triage FROM findings WHERE triage <> ?", [str(Triage.NEW)]
    ).fetchall()
    muted = list(active_mutes(con, now))
    if not stored and not muted:
        return findings
    table = findings.table
    fingerprints = table.column("fingerprint")
    keys = pa.array([fp for fp, _ in stored], pa.string())
    values = pa.array([triage for _, triage in stored], pa.string())
    decided = pc.fill_null(pc.take(values, pc.index_in(fingerprints, value_set=keys)), "new")
    mutable = pc.is_in(decided, value_set=pa.array(_MUTABLE))
    in_mute = pc.is_in(table.column("rule_id"), value_set=pa.array(muted, pa.string()))
    effective = pc.if_else(pc.and_(mutable, in_mute), str(Triage.MUTED), decided)
    before = table.column("triage")
    changed = pc.not_equal(effective, before)
    if not pc.any(changed).as_py():
        return findings
    texts = table.column("json")
    pairs = table.select(["triage"]).append_column("to", effective).filter(changed)
    for old, new in {(str(a), str(b)) for a, b in zip(*pairs.to_pydict().values(), strict=True)}:
        rows = pc.and_(pc.equal(before, old), pc.equal(effective, new))
        # The first "triage" key of a row's JSON is the finding's own: every value before it
        # is a string or a number, in which a quote is escaped.
        replaced = pc.replace_substring(
            texts, f'"triage":"{old}"', f'"triage":"{new}"', max_replacements=1
        )
        texts = pc.if_else(rows, replaced, texts)
    index = table.schema.get_field_index
    table = table.set_column(index("triage"), "triage", effective)
    table = table.set_column(index("json"), "json", texts)
    return FindingTable(table)


def read_triage(
    path: str | os.PathLike[str], findings: FindingTable, now: datetime
) -> FindingTable:
    """``overlay_triage`` with the store at ``path``, opened read-only for it."""
    with DuckStore(path, read_only=True) as store:
        return overlay_triage(store.con, findings, now)
