"""The sidecar's incremental ticks say what a full evaluation of the same store says.

The real captures (``tests/data/captures``: Celery, RQ, BullMQ, recorded from real workers)
are fed to a store in batches — random splits of their spans in random order, so a
confirmation often lands in a later batch than its run, a run after its confirmation, a child
span after its parent, and a batch is sometimes sent twice — and after every batch the
incremental tick (``engine/incremental.py``) runs as of a ``FixedClock``. After every tick the
findings the store keeps (not resolved, origin ``serve``) must equal, fingerprint by
fingerprint with their kind and state, those of a full evaluation of the whole store
(``engine/evaluate.py``, what ``audit scan --db`` runs) as of the same time. Then time moves
on with no new span: pending findings turn open in the ticks exactly as in the full one.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from auditor.clock import FixedClock
from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.evaluate import evaluate
from auditor.engine.incremental import Incremental, read_watermark
from auditor.otlp.otlpjson import decode_json
from auditor.store.duck import DuckStore

REPO = Path(__file__).resolve().parents[3]
CAPTURES = REPO / "tests" / "data" / "captures"
RULES = REPO / "tests" / "data" / "rules" / "scan"
SYSTEMS = ("celery", "rq", "bullmq")

Found = set[tuple[str, str, str]]  # (fingerprint, kind, state)


def _spans(system: str) -> pa.Table:
    lines = (CAPTURES / system / "traces.jsonl").read_text(encoding="utf-8").splitlines()
    return pa.concat_tables([decode_json(line).to_arrow() for line in lines if line.strip()])


def _catalog(system: str, variant: str) -> Catalog:
    return load_catalog([RULES / f"{system}-{variant}.yaml"], packs=True)


def _kept(store: DuckStore) -> Found:
    rows = store.con.execute(
        "SELECT fingerprint, kind, state FROM findings "
        "WHERE origin = 'serve' AND state <> 'resolved'"
    ).fetchall()
    return {(str(f), str(k), str(s)) for f, k, s in rows}


def _full(store: DuckStore, catalog: Catalog, now_ns: int) -> Found:
    con = store.cursor()
    try:
        table = evaluate(con, catalog, as_of_ns=now_ns, evidence=False).findings.table
    finally:
        con.close()
    return set(
        zip(
            table["fingerprint"].to_pylist(),
            table["kind"].to_pylist(),
            table["state"].to_pylist(),
            strict=True,
        )
    )


def _start_ns(spans: pa.Table) -> int:
    return int(pa.compute.max(spans["Timestamp"]).cast(pa.int64()).as_py())


def _feed_and_compare(system: str, variant: str, seed: int) -> int:
    """Feed one capture in random batches, tick after each, compare; return the ticks."""
    rng = random.Random(seed)
    spans = _spans(system)
    order = list(range(spans.num_rows))
    rng.shuffle(order)
    cuts = sorted(rng.sample(range(1, len(order)), k=min(len(order) - 1, rng.randint(2, 5))))
    batches = [spans.take(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    catalog = _catalog(system, variant)
    # a minute after the last span: short graces have closed, long ones (5m) not yet
    clock = FixedClock(_start_ns(spans) + 60 * 10**9)
    ticks = 0
    with DuckStore(":memory:", clock=clock) as store:
        incremental = Incremental(catalog)
        for index, batch in enumerate(batches):
            store.insert(batch)
            if index and rng.random() < 0.3:
                store.insert(batches[index - 1])  # a client re-sends a batch
            clock.advance(rng.choice((0, 1, 20)))
            con = store.cursor()
            try:
                tick = incremental.tick(con, clock.now_ns())
            finally:
                con.close()
            ticks += 1
            assert tick.full == (index == 0)
            assert _kept(store) == _full(store, catalog, clock.now_ns()), (
                f"{system}/{variant} seed {seed}, after batch {index}"
            )
        # time alone: past every grace window, with no new span
        for step in (120, 600, 3600):
            clock.advance(step)
            con = store.cursor()
            try:
                if incremental.due(con, clock.now_ns()):
                    incremental.tick(con, clock.now_ns())
                    ticks += 1
            finally:
                con.close()
            assert _kept(store) == _full(store, catalog, clock.now_ns())
        assert read_watermark(store.con)[0] == int(
            store.con.execute("SELECT max(batch_id) FROM auditor_batches").fetchall()[0][0]
        )
    return ticks


# Every system with every rule form once; more random splits of the design form.
CASES = [(system, variant, 0) for system in SYSTEMS for variant in ("design", "key", "span")]
CASES += [(system, "design", seed) for system in SYSTEMS for seed in (1, 2)]


@pytest.mark.parametrize(("system", "variant", "seed"), CASES)
def test_ticks_over_random_batches_of_a_real_capture_equal_a_full_evaluation(
    system: str, variant: str, seed: int
) -> None:
    assert _feed_and_compare(system, variant, seed) >= 3
