"""``python -m bench --quick`` runs every registered benchmark on tiny sizes and prints one
table with a row per figure (the quick figures are not measurements, and judge no target)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.registry import BENCHES

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]


def test_python_m_bench_quick_runs_every_benchmark_into_one_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=1100,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout[done.stdout.index("| bench |") :].splitlines()
    assert "FAILED" not in done.stdout
    benches = {line.split("|")[1].strip() for line in table[2:]}
    assert benches == set(BENCHES)
    assert any("overload: peak RSS" in line for line in table)
