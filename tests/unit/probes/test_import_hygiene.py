"""``import probes`` (and its adapters) load only the standard library and OpenTelemetry's API.

Run in a fresh interpreter: the test process itself has imported everything already.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

FORBIDDEN = ("duckdb", "textual", "grpc", "typer", "pyarrow", "aiohttp", "auditor", "tui")


def loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _offending(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORBIDDEN]


def test_import_probes_loads_no_heavy_or_server_module():
    modules = loaded_after("import probes")
    assert _offending(modules) == []
    assert "opentelemetry.sdk" not in modules
    assert "opentelemetry.trace" in modules


@pytest.mark.parametrize("framework", ["celery", "rq", "dramatiq", "arq"])
def test_an_adapter_adds_nothing_beyond_its_framework(framework):
    importlib.import_module(framework)
    # (redis-py 8 itself imports opentelemetry.sdk; that is the framework's, not ours)
    before = set(loaded_after(f"import {framework}"))
    after = set(loaded_after(f"import {framework}, probes.adapters.{framework}"))
    added = sorted(after - before)
    assert _offending(added) == []
    assert [m for m in added if m.startswith("opentelemetry.sdk")] == []


def test_the_temporal_adapter_adds_nothing_beyond_temporalio():
    importlib.import_module("temporalio")
    before = set(loaded_after("import temporalio.worker, temporalio.workflow"))
    after = set(
        loaded_after("import temporalio.worker, temporalio.workflow, probes.adapters.temporal")
    )
    added = sorted(after - before)
    assert _offending(added) == []
    assert [m for m in added if m.startswith("opentelemetry.sdk")] == []
    assert "temporalio.contrib.opentelemetry" not in added  # works with either, needs neither
