#!/usr/bin/env python3
"""The long fuzzing campaign: ``tests/unit/fuzz`` with many examples per target.

    python bench/fuzz.py [--examples 5000]

The unit suite runs each fuzz target with a modest, fixed set of examples; this draws fresh
random ones (``AUDITOR_FUZZ_EXAMPLES``), with no per-test timeout. A failure is a crasher:
keep its input under ``tests/data/fuzz/`` and fix the code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from bench.rows import Row  # noqa: E402


def campaign(examples: int) -> tuple[bool, float]:
    env = {**os.environ, "AUDITOR_FUZZ_EXAMPLES": str(examples)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/unit/fuzz", "-q", "-p", "no:cacheprovider",
         "-o", "timeout=0"],
        cwd=REPO, env=env,
    )  # fmt: skip
    return done.returncode == 0, time.monotonic() - started


def rows(quick: bool) -> list[Row]:
    """For ``python -m bench``: 2,000 examples per target (quick: 10)."""
    examples = 10 if quick else 2000
    passed, seconds = campaign(examples)
    return [
        Row(
            f"fuzz: {examples:,} fresh examples per target, decoders and YAML loaders",
            seconds,
            "s",
            "no unexpected exception",
            met=passed,
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    passed, seconds = campaign(parser.parse_args().examples)
    print(f"{'passed' if passed else 'FAILED'} in {seconds:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
