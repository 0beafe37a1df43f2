"""The durable outbox: deciding what to tell each sink, and keeping it until it is told.

Owns the tables ``alert_outbox`` and ``alert_state`` (``auditor.store.schema``, migration 3).
``alert_state`` says, per sink and finding, whether an alert is open there; it is what makes
each change of state told once, whoever reports it and however often:

- ``enqueue(con, opened, resolved, config, now)``: reads the findings of those fingerprints
  from ``findings``, routes and groups them per sink, and in **one transaction** inserts the
  outbox rows and moves ``alert_state``. An opened fingerprint counts only when its finding
  is ``open`` (not triaged ``muted`` or ``false_positive``) and no alert is open for it at
  that sink; a resolved one only when an alert is open for it and its finding is no longer
  ``open``. So the caller may report a transition twice, or late: nothing is sent twice.
- ``repeat_due``: still-open alerts whose ``repeat_interval`` has passed are told again.
- ``reconcile``: what the transitions missed (a crash between saving findings and enqueuing,
  a sink added to ``audit.yaml``): open findings of the sidecar (``origin = serve``) with no
  open alert, and open alerts whose finding is no longer open. It may run (``Alerting``'s
  ticker) while the evaluation loop enqueues: a decision both take at once is refused to one
  of them by DuckDB and taken again (``_transaction``).
- A finding of a rule muted by a person (``rule_mutes``, ``store/triage.py``) that is ``new``
  or ``acknowledged`` reads as ``muted``: nothing is told of it while the mute holds; when it
  ends, ``reconcile`` tells what is still open.
- ``prune``: sent messages are kept a day, failed ones and closed alert states a week.

The dispatcher reads and marks rows with ``next_row`` / ``mark_sent`` / ``mark_retry`` /
``mark_failed``. A row is ``pending`` until its sink accepted it (``sent``) or gave a final
refusal, or it was older than ``give_up_after`` (``failed``); nothing is marked while it is
being sent, so a row whose sending was cut short by a crash is sent again after a restart:
delivery is at least once.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from auditor.alerts import formats
from auditor.alerts.config import AlertsConfig, SinkConfig, parse_alerts
from auditor.alerts.model import AlertFinding, Event, Message
from auditor.alerts.routing import grouped
from auditor.findings.model import Finding, Kind, RuleInfo, Severity, SpanRef, State, Triage
from auditor.store.triage import MUTABLE_TRIAGE, active_mutes

SILENT_TRIAGE = (str(Triage.MUTED), str(Triage.FALSE_POSITIVE))
KEEP_SENT = timedelta(days=1)
KEEP_FAILED = timedelta(days=7)

# Finding fields stored as they are, under their own name (the fingerprint first)
_AS_STORED = ("fingerprint", "rule_id", "system", "job_id", "job_name", "queue", "effect_name",
              "effect_key", "trace_id", "span_id", "service", "attempt", "message")  # fmt: skip
_COLUMNS = (*_AS_STORED, "kind", "severity", "state", "triage", "done_ns", "evidence", "labels",
            "origin", "first_seen", "last_seen", "resolved_at")  # fmt: skip
_SELECT = ", ".join(f"f.{c}" for c in _COLUMNS)

AlertsLike = AlertsConfig | Sequence[Mapping[str, Any]]
Rules = Mapping[str, RuleInfo] | None


@dataclass(frozen=True)
class _Row:
    """One stored finding, as read for alerting."""

    values: dict[str, Any]
    # made once per (opened_at, resolved_at), whatever the number of sinks told
    alerts: dict[tuple[datetime, datetime | None], AlertFinding] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def alertable(self) -> bool:
        return (
            self.values["state"] == str(State.OPEN) and self.values["triage"] not in SILENT_TRIAGE
        )

    def labels_map(self) -> dict[str, str]:
        return json.loads(self.values["labels"] or "{}")

    def accepted_by(self, sink: SinkConfig) -> bool:
        v = self.values
        return sink.route.accepts(
            severity=Severity(v["severity"]),
            rule_id=v["rule_id"],
            kind=v["kind"],
            system=v["system"],
            labels=self.labels_map(),
        )

    def finding(self) -> Finding:
        v = self.values
        evidence = tuple(SpanRef(**e) for e in json.loads(v["evidence"] or "[]"))
        return Finding(
            **{k: v[k] for k in _AS_STORED},
            kind=Kind(v["kind"]),
            severity=Severity(v["severity"]),
            state=State(v["state"]),
            triage=Triage(v["triage"]),
            done_at_ns=v["done_ns"],
            evidence=evidence,
            labels=tuple(sorted(self.labels_map().items())),
        )

    def alert(
        self, opened_at: datetime, rules: Rules, resolved_at: datetime | None = None
    ) -> AlertFinding:
        made = self.alerts.get((opened_at, resolved_at))
        if made is None:
            made = self.alerts[(opened_at, resolved_at)] = self._alert(
                opened_at, rules, resolved_at
            )
        return made

    def _alert(
        self, opened_at: datetime, rules: Rules, resolved_at: datetime | None
    ) -> AlertFinding:
        v = self.values
        info = (rules or {}).get(v["rule_id"])
        return AlertFinding(
            finding=self.finding(),
            opened_at=opened_at,
            first_seen=v["first_seen"],
            last_seen=v["last_seen"],
            resolved_at=resolved_at,
            title=info.title if info else "",
            runbook=info.runbook if info else "",
        )


@dataclass(frozen=True)
class _State:
    active: bool
    opened_at: datetime


def _read_findings(
    con: duckdb.DuckDBPyConnection, fingerprints: Iterable[str], now: datetime
) -> dict[str, _Row]:
    wanted = sorted(set(fingerprints))
    if not wanted:
        return {}
    rows = con.execute(
        f"SELECT {_SELECT} FROM findings f WHERE f.fingerprint IN (SELECT unnest(?::VARCHAR[]))",
        [wanted],
    ).fetchall()
    muted = active_mutes(con, now)
    return {r[0]: _row(r, muted) for r in rows}


def _row(values: Sequence[Any], muted: Mapping[str, datetime]) -> _Row:
    """A stored finding with its effective triage: a finding of a muted rule that is ``new``
    or ``acknowledged`` reads as ``muted`` (``store.triage``), and is told nothing."""
    row = dict(zip(_COLUMNS, values, strict=True))
    if row["rule_id"] in muted and row["triage"] in MUTABLE_TRIAGE:
        row["triage"] = str(Triage.MUTED)
    return _Row(row)


def _read_states(
    con: duckdb.DuckDBPyConnection, fingerprints: Iterable[str]
) -> dict[tuple[str, str], _State]:
    wanted = sorted(set(fingerprints))
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT sink, fingerprint, active, opened_at FROM alert_state "
        "WHERE fingerprint IN (SELECT unnest(?::VARCHAR[]))",
        [wanted],
    ).fetchall()
    return {(s, fp): _State(bool(a), o) for s, fp, a, o in rows}


class _Plan:
    """Outbox rows and alert state changes decided inside one transaction."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.messages: list[Message] = []
        # (sink, fingerprint) → (active, opened_at, last_notified_at, resolved_at)
        self.states: dict[tuple[str, str], tuple[bool, datetime, datetime, datetime | None]] = {}

    def tell(self, sink: SinkConfig, event: Event, alerts: list[AlertFinding]) -> None:
        for group in grouped(sink, event, alerts, self.now):
            fingerprints = tuple(a.fingerprint for a in group.findings)
            for payload in formats.build(group):
                self.messages.append(
                    Message(sink.name, sink.type, event, group.key_text, fingerprints, payload)
                )

    def write(self, con: duckdb.DuckDBPyConnection) -> int:
        if self.messages:
            m = self.messages
            con.execute(
                """
                INSERT INTO alert_outbox (id, sink, sink_type, event, group_key, fingerprints,
                    payload, state, attempts, next_attempt_at, created_at)
                SELECT nextval('alert_outbox_seq'), sink, sink_type, event, group_key,
                    fingerprints, payload, 'pending', 0, $now, $now
                FROM (SELECT unnest($sink::VARCHAR[]) AS sink,
                             unnest($sink_type::VARCHAR[]) AS sink_type,
                             unnest($event::VARCHAR[]) AS event,
                             unnest($group_key::VARCHAR[]) AS group_key,
                             unnest($fingerprints::VARCHAR[][]) AS fingerprints,
                             unnest($payload::VARCHAR[]) AS payload,
                             generate_subscripts($sink::VARCHAR[], 1) AS n)
                ORDER BY n
                """,
                {
                    "now": self.now,
                    "sink": [x.sink for x in m],
                    "sink_type": [x.sink_type for x in m],
                    "event": [str(x.event) for x in m],
                    "group_key": [x.group_key for x in m],
                    "fingerprints": [list(x.fingerprints) for x in m],
                    "payload": [json.dumps(x.payload, ensure_ascii=False) for x in m],
                },
            )
        if self.states:
            keys = list(self.states)
            values = [self.states[k] for k in keys]
            con.execute(
                """
                INSERT INTO alert_state
                SELECT unnest($sink::VARCHAR[]), unnest($fp::VARCHAR[]),
                       unnest($active::BOOLEAN[]), unnest($opened::TIMESTAMP[]),
                       unnest($notified::TIMESTAMP[]), unnest($resolved::TIMESTAMP[])
                ON CONFLICT (sink, fingerprint) DO UPDATE SET
                    active = excluded.active, opened_at = excluded.opened_at,
                    last_notified_at = excluded.last_notified_at,
                    resolved_at = excluded.resolved_at
                """,
                {
                    "sink": [k[0] for k in keys],
                    "fp": [k[1] for k in keys],
                    "active": [v[0] for v in values],
                    "opened": [v[1] for v in values],
                    "notified": [v[2] for v in values],
                    "resolved": [v[3] for v in values],
                },
            )
        return len(self.messages)


def _decide(
    plan: _Plan,
    config: AlertsConfig,
    rows: Mapping[str, _Row],
    states: Mapping[tuple[str, str], _State],
    opened: Iterable[str],
    resolved: Iterable[str],
    rules: Rules,
) -> None:
    now = plan.now
    opened = list(dict.fromkeys(opened))
    resolved = list(dict.fromkeys(resolved))
    for sink in config.sinks:
        opening: list[AlertFinding] = []
        for fp in opened:
            row = rows.get(fp)
            state = states.get((sink.name, fp))
            if row is None or not row.alertable or (state and state.active):
                continue
            if (sink.name, fp) in plan.states or not row.accepted_by(sink):
                continue
            opening.append(row.alert(now, rules))
            plan.states[(sink.name, fp)] = (True, now, now, None)
        closing: list[AlertFinding] = []
        for fp in resolved:
            row = rows.get(fp)
            state = states.get((sink.name, fp))
            if state is None or not state.active or (sink.name, fp) in plan.states:
                continue
            if row is not None and row.values["state"] == str(State.OPEN):
                continue  # open again (or never closed): the alert stays open
            plan.states[(sink.name, fp)] = (False, state.opened_at, now, now)
            if row is not None:
                resolved_at = row.values["resolved_at"] or now
                closing.append(row.alert(state.opened_at, rules, resolved_at))
        if opening:
            plan.tell(sink, Event.OPEN, opening)
        if closing and sink.send_resolved:
            plan.tell(sink, Event.RESOLVED, closing)


_CONFLICT_TRIES = 20


def _transaction(con: duckdb.DuckDBPyConnection, work: Any) -> int:
    """``work()`` in one transaction. The evaluation loop's ``enqueue`` and the ticker's
    ``reconcile`` may decide about one finding at once: DuckDB then refuses one of the two
    (a write-write conflict, or a duplicate key of ``alert_state`` that both inserted), which
    is rolled back whole, run again, and finds the other's decision made. Nothing is queued
    twice."""
    for attempt in range(_CONFLICT_TRIES):
        con.begin()
        try:
            count = int(work())
            con.commit()
            return count
        except (duckdb.TransactionException, duckdb.ConstraintException):
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            if attempt == _CONFLICT_TRIES - 1:
                raise
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # apart, not in step
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            raise
    raise AssertionError("unreachable")


def enqueue(
    con: duckdb.DuckDBPyConnection,
    opened: Iterable[str],
    resolved: Iterable[str],
    config: AlertsLike,
    now: datetime,
    rules: Rules = None,
) -> int:
    """Queue what the sinks must be told of these transitions; the outbox rows inserted.

    ``now`` is naive UTC (``clock.naive_utc``). Runs in one transaction on ``con``, which must
    not be inside one already."""
    config = parse_alerts(config)
    opened, resolved = list(opened), list(resolved)
    if not config or not (opened or resolved):
        return 0

    def work() -> int:
        fingerprints = [*opened, *resolved]
        plan = _Plan(now)
        _decide(
            plan,
            config,
            _read_findings(con, fingerprints, now),
            _read_states(con, fingerprints),
            opened,
            resolved,
            rules,
        )
        return plan.write(con)

    return _transaction(con, work)


def repeat_due(
    con: duckdb.DuckDBPyConnection, config: AlertsLike, now: datetime, rules: Rules = None
) -> int:
    """Queue a ``repeat`` of every open alert whose sink's ``repeat_interval`` has passed since
    it was last told, while its finding is still open; the outbox rows inserted."""
    config = parse_alerts(config)
    sinks = [s for s in config.sinks if s.repeat_interval_s > 0]
    if not sinks:
        return 0

    def work() -> int:
        plan = _Plan(now)
        for sink in sinks:
            due = now - timedelta(seconds=sink.repeat_interval_s)
            found = con.execute(
                f"""
                SELECT {_SELECT}, s.opened_at FROM alert_state s
                JOIN findings f ON f.fingerprint = s.fingerprint
                WHERE s.sink = ? AND s.active AND s.last_notified_at <= ?
                ORDER BY f.fingerprint
                """,
                [sink.name, due],
            ).fetchall()
            alerts = []
            muted = active_mutes(con, now)
            for r in found:
                row = _row(r[:-1], muted)
                if row.alertable and row.accepted_by(sink):
                    alerts.append(row.alert(r[-1], rules))
                    plan.states[(sink.name, row.fingerprint)] = (True, r[-1], now, None)
            if alerts:
                plan.tell(sink, Event.REPEAT, alerts)
        return plan.write(con)

    return _transaction(con, work)


_SEVERITY_RANK_SQL = (
    "CASE f.severity " + " ".join(f"WHEN '{s}' THEN {s.rank}" for s in Severity) + " END"
)


def _json_key(name: str) -> str:
    """The JSON path of top-level key ``name``."""
    return '$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _route_sql(sink: SinkConfig, rule_ids: Sequence[str]) -> tuple[str, list[Any]]:
    """``sink``'s route as a SQL condition on ``findings f``, and its parameters. Only a
    pre-filter (what it keeps, ``Route.accepts`` checks again); rule globs are matched here
    with ``fnmatch`` against ``rule_ids``, so that they mean what they mean everywhere."""
    route = sink.route
    clauses = [f"{_SEVERITY_RANK_SQL} >= ?"]
    params: list[Any] = [route.min_severity.rank]
    if route.rules:
        clauses.append("f.rule_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append([r for r in rule_ids if any(fnmatch.fnmatchcase(r, g) for g in route.rules)])
    for column, values in (("kind", route.kinds), ("system", route.systems)):
        if values:
            clauses.append(f"f.{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(values))
    for name, accepted in route.labels:
        clauses.append("json_extract_string(f.labels, ?) IN (SELECT unnest(?::VARCHAR[]))")
        params += [_json_key(name), list(accepted)]
    return " AND ".join(clauses), params


def reconcile(
    con: duckdb.DuckDBPyConnection, config: AlertsLike, now: datetime, rules: Rules = None
) -> int:
    """Queue the transitions no caller reported: open findings of ``audit serve`` without an
    open alert at a sink that takes them, and open alerts whose finding is no longer open.
    Each sink's route is applied in SQL, so findings a sink does not take cost nothing here."""
    config = parse_alerts(config)
    if not config:
        return 0
    names = [s.name for s in config.sinks]

    def work() -> int:
        rule_ids = [r for (r,) in con.execute(
            "SELECT DISTINCT rule_id FROM findings WHERE state = 'open' AND origin = 'serve'"
        ).fetchall()]  # fmt: skip
        opened: dict[str, None] = {}
        for sink in config.sinks:
            route, params = _route_sql(sink, rule_ids)
            found = con.execute(
                f"""
                SELECT f.fingerprint FROM findings f
                WHERE f.state = 'open' AND f.origin = 'serve'
                  AND f.triage NOT IN (SELECT unnest(?::VARCHAR[])) AND {route}
                  AND NOT (f.triage IN (SELECT unnest(?::VARCHAR[])) AND f.rule_id IN
                           (SELECT rule_id FROM rule_mutes WHERE until > ?))
                  AND NOT EXISTS (SELECT 1 FROM alert_state s WHERE s.sink = ?
                                  AND s.fingerprint = f.fingerprint AND s.active)
                ORDER BY f.fingerprint
                """,
                [list(SILENT_TRIAGE), *params, list(MUTABLE_TRIAGE), now, sink.name],
            ).fetchall()
            opened.update((fp, None) for (fp,) in found)
        resolved = [fp for (fp,) in con.execute(
            """
            SELECT DISTINCT s.fingerprint FROM alert_state s
            LEFT JOIN findings f ON f.fingerprint = s.fingerprint
            WHERE s.active AND s.sink IN (SELECT unnest(?::VARCHAR[]))
              AND (f.state IS NULL OR f.state <> 'open')
            ORDER BY s.fingerprint
            """,
            [names],
        ).fetchall()]  # fmt: skip
        if not opened and not resolved:
            return 0
        fingerprints = [*opened, *resolved]
        plan = _Plan(now)
        rows, states = _read_findings(con, fingerprints, now), _read_states(con, fingerprints)
        _decide(plan, config, rows, states, list(opened), resolved, rules)
        return plan.write(con)

    return _transaction(con, work)


def prune(con: duckdb.DuckDBPyConnection, now: datetime) -> int:
    """Forget old messages and closed alerts; the rows deleted."""
    sent = con.execute(
        "DELETE FROM alert_outbox WHERE (state = 'sent' AND sent_at < ?) "
        "OR (state = 'failed' AND created_at < ?)",
        [now - KEEP_SENT, now - KEEP_FAILED],
    ).fetchall()[0][0]
    closed = con.execute(
        "DELETE FROM alert_state WHERE NOT active AND resolved_at < ?", [now - KEEP_FAILED]
    ).fetchall()[0][0]
    return int(sent) + int(closed)


# ---------------------------------------------------------------- the dispatcher's side


@dataclass(frozen=True)
class OutboxRow:
    id: int
    sink: str
    sink_type: str
    event: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime

    @property
    def message_id(self) -> str:
        """The same for every delivery of this message (receivers may drop repeats by it)."""
        return f"{self.id}.{int(self.created_at.replace(tzinfo=UTC).timestamp() * 1000)}"


def next_row(con: duckdb.DuckDBPyConnection, sink: str) -> OutboxRow | None:
    """The sink's oldest pending message, due or not: a sink's messages go out in order, so
    that an alert's resolve never overtakes its opening."""
    row = con.execute(
        "SELECT id, sink, sink_type, event, payload, attempts, next_attempt_at, created_at "
        "FROM alert_outbox WHERE sink = ? AND state = 'pending' ORDER BY id LIMIT 1",
        [sink],
    ).fetchall()
    if not row:
        return None
    i, s, kind, event, payload, attempts, next_at, created = row[0]
    return OutboxRow(int(i), s, kind, event, json.loads(payload), int(attempts), next_at, created)


def mark_sent(con: duckdb.DuckDBPyConnection, row_id: int, answer: str, now: datetime) -> None:
    con.execute(
        "UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
        "last_answer = ? WHERE id = ?",
        [now, answer, row_id],
    )


def mark_retry(
    con: duckdb.DuckDBPyConnection, row_id: int, answer: str, error: str, next_at: datetime
) -> None:
    con.execute(
        "UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = ?, "
        "last_answer = ?, last_error = ? WHERE id = ?",
        [next_at, answer, error, row_id],
    )


def mark_failed(con: duckdb.DuckDBPyConnection, row_id: int, answer: str, error: str) -> None:
    con.execute(
        "UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, "
        "last_answer = ?, last_error = ? WHERE id = ?",
        [answer, error, row_id],
    )


def depth(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Pending messages per sink name."""
    rows = con.execute(
        "SELECT sink, count(*) FROM alert_outbox WHERE state = 'pending' GROUP BY sink ORDER BY sink"
    ).fetchall()
    return {s: int(n) for s, n in rows}
