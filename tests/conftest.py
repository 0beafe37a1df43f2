"""Test selection shared by every test folder.

Tests marked ``clickhouse`` evaluate on chDB, which comes with the optional ``[clickhouse]``
extra (about 0.5 GB installed). Where chdb is not installed they are deselected (reported
as deselected, not skipped: nothing stands in for them). ``.ci/run`` has its own step that
installs the extra and runs them (``pytest -m clickhouse``).
"""

from __future__ import annotations

import importlib.util

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("chdb") is not None:
        return
    deselected = [item for item in items if item.get_closest_marker("clickhouse")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("clickhouse")]
