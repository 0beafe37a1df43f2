"""The TUI driven by Textual's pilot over a real demo store: filters, the detail, the
comparison, triage, export and help. Triage is asserted where it lands: in the store, and in
``audit scan --db … --format json``."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from auditor.cli.main import main
from auditor.demo import rules_path
from auditor.engine.catalog import load_catalog
from tests.unit.tui.store import COPIES, NOW_NS
from tui.app import AuditApp, make_app
from tui.screens.compare import CompareScreen
from tui.screens.detail import DetailScreen
from tui.screens.findings import FindingsScreen
from tui.screens.help import HelpScreen
from tui.source import StoreSource
from tui.waterfall import Waterfall

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]


def app_on(db: Path) -> AuditApp:
    return make_app(StoreSource(db, load_catalog([rules_path()], packs=False)), now_ns=NOW_NS)


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.05)


def caption(app: AuditApp) -> str:
    return str(app.screen.query_one("#caption", Static).render())


def findings_screen(app: AuditApp) -> FindingsScreen:
    screen = app.screen
    assert isinstance(screen, FindingsScreen)
    return screen


async def open_first(pilot: Pilot[None], query: str) -> DetailScreen:
    await pilot.press("slash", *query, "enter")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DetailScreen)
    return screen


def stored(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def scanned(db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """fingerprint -> triage, as ``audit scan --db --format json`` reports them."""
    capsys.readouterr()
    code = main(["scan", "--db", str(db), "--rules", str(rules_path()), "--format", "json"])
    assert code == 1
    return {f["fingerprint"]: f["triage"] for f in json.loads(capsys.readouterr().out)["findings"]}


async def test_a_facet_filter_keeps_only_its_findings_and_says_how_many_of_all(
    demo_db: Path,
) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert caption(app) == "48 findings"
        await pilot.press("slash", *"kind:duplicate_effect system:rq")
        await settle(pilot)
        view = findings_screen(app).view
        assert view is not None
        assert set(view.rows.column("kind").to_pylist()) == {"duplicate_effect"}
        assert set(view.rows.column("system").to_pylist()) == {"rq"}
        assert caption(app).startswith(f"{COPIES} of 48 findings")


async def test_the_filter_bar_completes_facet_values_from_the_data(demo_db: Path) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"rule:bull", "tab")
        await settle(pilot)
        assert app.screen.query_one("#filter").value == "rule:bullmq-order-email-confirmed"  # type: ignore[attr-defined]
        assert caption(app).startswith(f"{5 * COPIES} of 48")


async def test_a_filter_it_cannot_read_is_said_in_the_caption(demo_db: Path) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"colour:red")
        await settle(pilot)
        assert "no facet 'colour'" in caption(app)


async def test_the_detail_draws_a_ghost_for_the_missing_confirmation_and_jumps_to_it(
    demo_db: Path,
) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        detail = await open_first(pilot, "kind:unconfirmed_done system:celery")
        words = str(detail.query_one("#words", Static).render())
        assert "Missing:" in words and "no confirmation of email.sent" in words
        waterfall = detail.query_one(Waterfall)
        ghosts = [i for i, row in enumerate(waterfall.rows) if row.ghost]
        assert len(ghosts) == 1
        assert waterfall.cursor == 0
        await pilot.press("l")
        assert waterfall.cursor == ghosts[0]
        assert "done" in waterfall.rows[ghosts[0] - 0].marks or any(
            "done" in r.marks for r in waterfall.rows
        )


async def test_compare_puts_the_retried_run_beside_an_honest_one(demo_db: Path) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await open_first(pilot, "kind:duplicate_effect system:bullmq")
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        text = str(app.screen.query_one("#compare", Static).render())
        assert "honest run" in text
        # the retry ran the job a second time and confirmed the email again
        assert "only the lying run has it" in text


async def test_acknowledging_persists_in_the_store_and_in_scan_json(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        detail = await open_first(pilot, "kind:failed_effect system:rq")
        fingerprint = detail.fingerprint
        await pilot.press("a")
        await settle(pilot)
        assert "triage [b]acknowledged" in "".join(
            str(s) for s in [detail.query_one("#words", Static).content]
        ) or "acknowledged" in str(detail.query_one("#words", Static).render())
    assert stored(demo_db, "SELECT triage FROM findings WHERE fingerprint = ?", fingerprint) == [
        ("acknowledged",)
    ]
    assert scanned(demo_db, capsys)[fingerprint] == "acknowledged"


async def test_a_false_positive_needs_a_note_and_keeps_it(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        detail = await open_first(pilot, "kind:premature_done system:celery")
        fingerprint = detail.fingerprint
        await pilot.press("f", *"thread pool sends later", "enter")
        await settle(pilot)
    notes = stored(
        demo_db, "SELECT triage, text FROM finding_notes WHERE fingerprint = ?", fingerprint
    )
    assert notes == [("false_positive", "thread pool sends later")]
    assert scanned(demo_db, capsys)[fingerprint] == "false_positive"


async def test_muting_a_rule_shows_its_findings_muted_after_the_refresh(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await open_first(pilot, "rule:rq-order-email-confirmed")
        await pilot.press("m", "ctrl+u", *"2h", "enter")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        view = findings_screen(app).view
        assert view is not None
        assert set(view.rows.column("triage").to_pylist()) == {"muted"}
    assert stored(demo_db, "SELECT rule_id FROM rule_mutes") == [("rq-order-email-confirmed",)]
    triage = scanned(demo_db, capsys)
    rq = stored(
        demo_db, "SELECT fingerprint FROM findings WHERE rule_id = 'rq-order-email-confirmed'"
    )
    assert {triage[fp] for (fp,) in rq} == {"muted"}


async def test_the_filtered_view_exports_to_parquet(demo_db: Path, tmp_path: Path) -> None:
    app = app_on(demo_db)
    target = tmp_path / "view.parquet"
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"sev:critical", "enter")
        await settle(pilot)
        await pilot.press("x", "ctrl+u", *str(target), "enter")
        await settle(pilot)
    table = pq.read_table(target)
    assert table.num_rows == 5 * COPIES
    assert set(table.column("severity").to_pylist()) == {"critical"}


async def test_help_lists_the_keys_of_the_screen_under_it(demo_db: Path) -> None:
    app = app_on(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await open_first(pilot, "kind:lost_job")
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text", Static).render())
        for description in ("Jump to the lie", "False positive", "Mute rule", "Compare"):
            assert description in text
