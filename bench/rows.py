"""One benchmark figure as ``python -m bench`` prints it, and how a bench hands its figures back.

Every bench script defines ``rows(quick: bool) -> list[Row]``: each figure it measured, its
target, and the baseline measured in the same run (``ratio`` = value / baseline). ``quick``
asks for tiny sizes: a smoke test that the bench runs, not a measurement.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    figure: str
    value: float
    unit: str
    target: str = ""  # e.g. ">= 60000 spans/s", "<= 1.5x baseline"; "" when none
    baseline: float | None = None  # measured in the same run, same unit
    baseline_name: str = ""  # what the baseline is
    met: bool | None = None  # the target held (None: no target)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


def save(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([asdict(r) for r in rows]))


def load(path: Path) -> list[Row]:
    return [Row(**r) for r in json.loads(path.read_text())]
