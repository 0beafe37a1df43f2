from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.tui.store import build, copy_of


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("demo") / "template.duckdb")


@pytest.fixture
def demo_db(demo_template: Path, tmp_path: Path) -> Path:
    return copy_of(demo_template, tmp_path)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual runs on asyncio; anyio's pytest plugin runs the async tests
