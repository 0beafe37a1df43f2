"""The TUI over a real running ``audit serve`` (its HTTP API): the findings load, and triage
done in the TUI is what the API and, after the server stops, ``audit scan --db`` report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.api.client import ApiClient
from auditor.cli.main import main
from auditor.demo import rules_path
from tests.systems.audit_serve import audit_serve
from tests.unit.tui.store import NOW_NS, build
from tests.unit.tui.test_app import caption, open_first, settle
from tui.app import make_app
from tui.source import ApiSource

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_triage_in_the_tui_over_the_api_is_what_the_api_and_the_store_say(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = build(tmp_path / "demo.duckdb")
    with audit_serve(db, args=["--rules", str(rules_path())]) as endpoint:
        app = make_app(ApiSource(endpoint), now_ns=NOW_NS)
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert caption(app) == "48 findings"
            detail = await open_first(pilot, "kind:premature_done system:bullmq")
            fingerprint = detail.fingerprint
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("m", "ctrl+u", *"30m", "enter")
            await settle(pilot)
        with ApiClient(endpoint) as client:
            assert client.finding(fingerprint)["triage"] == "muted"  # acknowledged, then muted
            notes = client.finding(fingerprint)["notes"]
            assert [n["triage"] for n in notes] == ["acknowledged"]
            muted = {r["id"]: r["muted_until"] for r in client.rules_json()}
            assert muted["bullmq-order-email-confirmed"] is not None
    capsys.readouterr()
    code = main(["scan", "--db", str(db), "--rules", str(rules_path()), "--format", "json"])
    assert code == 1
    found = {f["fingerprint"]: f["triage"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert found[fingerprint] == "muted"
