"""Every benchmark ``python -m bench`` runs: a name and its script, which defines
``rows(quick: bool) -> list[bench.rows.Row]``. Adding a benchmark is adding its line here.

Each script runs in a process of its own (the scripts put their own folder on ``sys.path``
and several have a module named ``traffic``), in this order.
"""

from __future__ import annotations

BENCHES: dict[str, str] = {
    "ingest": "bench/ingest/run.py",
    "overload": "bench/ingest/overload.py",
    "scan": "bench/scan/backlog.py",
    "render": "bench/scan/render.py",
    "fuzz": "bench/fuzz.py",
}
