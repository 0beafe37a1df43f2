"""Golden-file comparison for what users see.

``assert_golden(name, text)`` compares ``text`` with ``tests/data/golden/<name>``. Run the
tests with ``AUDITOR_UPDATE_GOLDENS=1`` to (re)write the files instead, then review the diff
like any other change: a golden diff is a change in user-facing output.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "golden"
UPDATE_ENV = "AUDITOR_UPDATE_GOLDENS"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="")
        return
    assert path.exists(), f"no golden file {path}; create it with {UPDATE_ENV}=1"
    expected = path.read_bytes().decode("utf-8")
    assert text == expected, (
        f"output differs from golden {path.name}; if the change is intended, rerun with "
        f"{UPDATE_ENV}=1 and review the diff"
    )
