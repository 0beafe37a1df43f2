"""Triage and rule mutes kept in the store: the transitions, the notes, the mutes, and the
effective triage, read the same way in SQL (the API) and over an evaluation's findings table
(``audit scan --db``), where each row's JSON text says it too."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from auditor.engine.catalog import Catalog
from auditor.engine.evaluate import evaluate
from auditor.findings.table import FindingTable, finding_json
from auditor.receivers.files import ingest_files
from auditor.store.duck import DuckStore
from auditor.store.findings import save_findings
from auditor.store.triage import (
    EFFECTIVE_SQL,
    Action,
    NoSuchFinding,
    TriageConflict,
    active_mutes,
    apply_triage,
    mute_rule,
    overlay_triage,
    read_triage,
    unmute_rule,
)
from tests.unit.api.conftest import CAPTURE, NOW


def fingerprints(store: DuckStore, where: str = "") -> list[str]:
    rows = store.con.execute(f"SELECT fingerprint FROM findings {where} ORDER BY 1").fetchall()
    return [r[0] for r in rows]


def triage_of(store: DuckStore, fingerprint: str) -> str:
    return str(
        store.con.execute(
            "SELECT triage FROM findings WHERE fingerprint = ?", [fingerprint]
        ).fetchall()[0][0]
    )


def test_the_transitions_and_their_notes(store: DuckStore) -> None:
    fp = fingerprints(store)[0]
    act = lambda action, note="": apply_triage(  # noqa: E731
        store.con, fp, action, note=note, author="ana", now=NOW
    )
    assert act(Action.ACKNOWLEDGE) == "acknowledged"
    with pytest.raises(TriageConflict, match="cannot acknowledge"):
        act(Action.ACKNOWLEDGE)
    with pytest.raises(ValueError, match="needs a note"):
        act(Action.FALSE_POSITIVE, "  ")
    assert act(Action.FALSE_POSITIVE, "not a lie") == "false_positive"
    with pytest.raises(TriageConflict):
        act(Action.FALSE_POSITIVE, "again")
    assert act(Action.NOTE, "looked again") == "false_positive"
    assert act(Action.REOPEN) == "new"
    with pytest.raises(TriageConflict, match="cannot reopen"):
        act(Action.REOPEN)
    with pytest.raises(NoSuchFinding):
        apply_triage(store.con, "0" * 20, Action.ACKNOWLEDGE, note="", author="", now=NOW)
    notes = store.con.execute(
        "SELECT author, triage, text FROM finding_notes WHERE fingerprint = ? ORDER BY rowid",
        [fp],
    ).fetchall()
    assert notes == [
        ("ana", "acknowledged", ""),
        ("ana", "false_positive", "not a lie"),
        ("ana", None, "looked again"),
        ("ana", "new", ""),
    ]


def test_an_evaluation_keeps_what_people_decided(store: DuckStore, catalog: Catalog) -> None:
    fp = fingerprints(store)[0]
    apply_triage(store.con, fp, Action.ACKNOWLEDGE, note="", author="", now=NOW)
    again = evaluate(store.con, catalog)
    save_findings(store.con, again.findings, "serve", NOW + timedelta(minutes=1),
                  [r.id for r in catalog.enabled_rules()])  # fmt: skip
    assert triage_of(store, fp) == "acknowledged"


def test_a_mute_holds_until_its_end_and_a_new_one_replaces_it(store: DuckStore) -> None:
    until = mute_rule(store.con, "order-email-sent", 7200, author="ana", note="", now=NOW)
    assert until == NOW + timedelta(hours=2)
    assert active_mutes(store.con, NOW) == {"order-email-sent": until}
    assert active_mutes(store.con, until) == {}
    shorter = mute_rule(store.con, "order-email-sent", 60, author="bo", note="", now=NOW)
    assert active_mutes(store.con, NOW) == {"order-email-sent": shorter}
    unmute_rule(store.con, "order-email-sent", now=NOW)
    assert active_mutes(store.con, NOW) == {}
    assert store.con.execute("SELECT count(*) FROM rule_mutes").fetchall() == [(2,)]


def _effective(store: DuckStore) -> dict[str, str]:
    rows = store.con.execute(
        f"SELECT fingerprint, effective_triage FROM ({EFFECTIVE_SQL})", {"now": NOW}
    ).fetchall()
    return dict(rows)


def test_the_effective_triage_reads_the_same_in_sql_and_over_a_findings_table(
    store: DuckStore, catalog: Catalog
) -> None:
    evaluation = evaluate(store.con, catalog)
    assert overlay_triage(store.con, evaluation.findings, NOW) is evaluation.findings  # nothing
    muted = fingerprints(store, "WHERE rule_id = 'order-email-sent'")
    confirmed = fingerprints(store, "WHERE rule_id = 'order-email-confirmed'")
    apply_triage(store.con, muted[0], Action.FALSE_POSITIVE, note="x", author="", now=NOW)
    apply_triage(store.con, muted[1], Action.ACKNOWLEDGE, note="", author="", now=NOW)
    apply_triage(store.con, confirmed[0], Action.ACKNOWLEDGE, note="", author="", now=NOW)
    mute_rule(store.con, "order-email-sent", 3600, author="", note="", now=NOW)
    effective = _effective(store)
    # a false positive stays one under a mute; new and acknowledged read muted
    assert effective[muted[0]] == "false_positive"
    assert effective[muted[1]] == "muted"
    assert effective[confirmed[0]] == "acknowledged"

    table = overlay_triage(store.con, evaluation.findings, NOW)
    assert {f.fingerprint: str(f.triage) for f in table} == effective
    for finding, text in zip(table, table.table.column("json").to_pylist(), strict=True):
        assert json.loads(text) == json.loads(json.dumps(finding.to_dict()))
        assert text == finding_json(finding)  # the engine's JSON and Python's agree here
    # a later time: the mute is over
    later = overlay_triage(store.con, evaluation.findings, NOW + timedelta(hours=2))
    assert {str(f.triage) for f in later if f.fingerprint == muted[1]} == {"acknowledged"}


def test_read_triage_opens_the_store_file_read_only(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "store.duckdb"
    with DuckStore(path) as store:
        ingest_files(store, [str(CAPTURE)])
        evaluation = evaluate(store.con, catalog)
        save_findings(store.con, evaluation.findings, "scan", NOW, [])
        fp = fingerprints(store)[0]
        apply_triage(store.con, fp, Action.ACKNOWLEDGE, note="", author="", now=NOW)
    table = read_triage(path, FindingTable(evaluation.findings.table), NOW)
    assert [str(f.triage) for f in table if f.fingerprint == fp] == ["acknowledged"]
