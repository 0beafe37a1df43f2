"""What the scan benchmark's scripts share (``run.py``, ``backlog.py``): the store of generated
traffic, the statements of a hand-written SQL file, and the check of findings against the lies
the generator made. It imports no part of auditor's engine, so a script that runs auditor as a
subprocess keeps working while the engine's internals change."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import traffic

from auditor.store.duck import DuckStore

Finding = tuple[str, str, str, str]  # rule id, kind, system, job id


def build_store(
    path: Path, spans: int, reuse: bool, lie_scale: float = 1.0
) -> traffic.Generated | None:
    """Generate about ``spans`` spans of traffic into a new store file at ``path`` (None: an
    existing one was reused, and what it holds is not known here)."""
    if reuse and path.exists():
        print(f"  reusing {path}")
        return None
    path.unlink(missing_ok=True)
    path.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    with DuckStore(path) as store:
        generated = traffic.generate(store, spans, lie_scale=lie_scale)
        store.checkpoint()
    print(
        f"  generated {generated.spans:,} spans, jobs {generated.jobs}, "
        f"{len(generated.lies):,} lying jobs in {generated.seconds:.1f} s"
    )
    return generated


def sql_statements(path: Path) -> list[str]:
    """The statements of a SQL file whose statements are separated by ``;`` and a blank line
    (comment lines dropped); the last one returns the findings."""
    text = "\n".join(
        line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";\n\n") if s.strip()]


def check_lies(found: Iterable[Finding], lies: set[tuple[str, str, str]]) -> bool:
    """Are the lies ``found`` reports (system, job id, kind) exactly the generated ``lies``?
    Prints the answer, and what was missed or extra when they are not."""
    reported = {(system, job_id, kind) for _, kind, system, job_id in found}
    exact = reported == lies
    print(f"  auditor's lies == the generated lies: {exact}")
    if not exact:
        print(f"    missed {sorted(lies - reported)[:8]}; extra {sorted(reported - lies)[:8]}")
    return exact
