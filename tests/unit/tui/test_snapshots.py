"""SVG snapshots of every screen (pytest-textual-snapshot) over the pinned demo store, at
120x36 and, for the findings table, 80x24 and the light theme. ``--snapshot-update`` rewrites
them after a deliberate change; the SVGs are the review."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from auditor.engine.catalog import load_catalog
from tests.unit.tui.store import NOW_NS
from tests.unit.tui.test_app import settle
from tui.app import AuditApp, make_app
from tui.source import StoreSource

REPO = Path(__file__).resolve().parents[3]
SnapCompare = Callable[..., bool]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def app(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> AuditApp:
    # a relative rule path keeps the machine's folders out of the Rules screen's SQL header
    monkeypatch.chdir(REPO)
    source = StoreSource(demo_db, load_catalog([Path("auditor/demo/rules.yaml")], packs=False))
    source.label = "store demo.duckdb"
    return make_app(source, now_ns=NOW_NS)


def keys(*pressed: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_findings(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys())


def test_findings_at_80x24(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys())


def test_findings_light(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys("ctrl+t"))


def test_findings_filtered(snap_compare: SnapCompare, app: AuditApp) -> None:
    typed = ("slash", *"sev>=critical age>1h", "enter")
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys(*typed))


def test_detail(snap_compare: SnapCompare, app: AuditApp) -> None:
    typed = ("slash", *"kind:unconfirmed_done system:celery", "enter", "enter", "l")
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys(*typed))


def test_detail_at_80x24(snap_compare: SnapCompare, app: AuditApp) -> None:
    typed = ("slash", *"kind:failed_effect system:bullmq", "enter", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys(*typed))


def test_compare(snap_compare: SnapCompare, app: AuditApp) -> None:
    typed = ("slash", *"kind:duplicate_effect system:celery", "enter", "enter", "c")
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys(*typed))


def test_rules(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys("R"))


def test_stats(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys("S"))


def test_help(snap_compare: SnapCompare, app: AuditApp) -> None:
    assert snap_compare(app, terminal_size=(120, 36), run_before=keys("question_mark"))
