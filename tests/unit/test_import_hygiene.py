"""The layers hold at run time, not only in import-linter's static graph.

Each check imports a module in a fresh interpreter and looks at ``sys.modules``: the rule
compiler must not pull in DuckDB (it only builds SQL), the core must not pull in the TUI,
and decoding must not pull in the servers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("auditor.rules.compiler", {"duckdb", "aiohttp", "grpc", "textual", "tui"}),
        ("auditor.profiles.compiler", {"duckdb", "aiohttp", "grpc", "textual", "tui"}),
        ("auditor.otlp.protobuf", {"duckdb", "aiohttp", "grpc", "textual", "tui"}),
        ("auditor.reports", {"duckdb", "aiohttp", "grpc", "textual", "tui"}),
        ("auditor.cli.main", {"textual", "tui"}),
    ],
)
def test_a_layer_does_not_load_what_it_must_not_depend_on(module: str, forbidden: set[str]) -> None:
    loaded = _loaded_after_import(module)
    assert not (loaded & forbidden), f"importing {module} loaded {sorted(loaded & forbidden)}"
