"""A span is stored once per (TraceId, SpanId) — OTLP clients re-send whole batches after a
timeout, and a re-sent confirmation must never look like a repeated side effect.

How ``DuckStore.insert`` does it, which these tests pin down: duplicates inside the incoming
table are dropped (DISTINCT ON), and duplicates of stored spans are found by an anti join
against the stored spans *whose Timestamp lies within the incoming table's [min, max]
Timestamp*. A re-sent span has the same start time, so it always falls in that window. A span
with the same ids but a start time outside the window is a different row to the store: it is
stored again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from auditor.otlp.protobuf import decode_protobuf
from auditor.store.duck import DuckStore
from tests.unit.otlp.builders import BASE_NS, job_request

HOUR_NS = 3600 * 10**9


def spans(*ns: int, start_ns: int = BASE_NS) -> pa.Table:
    tables = [
        decode_protobuf(job_request(n, start_ns=start_ns).SerializeToString()).to_arrow()
        for n in ns
    ]
    return pa.concat_tables(tables)


@pytest.fixture
def store() -> Iterator[DuckStore]:
    with DuckStore(":memory:") as s:
        yield s


def rows_per_id(store: DuckStore) -> list[tuple[str, str, int]]:
    return store.con.execute(
        'SELECT "TraceId", "SpanId", count(*) FROM otel_traces GROUP BY ALL HAVING count(*) > 1'
    ).fetchall()


def test_re_inserting_the_same_table_stores_nothing_new(store: DuckStore) -> None:
    table = spans(1, 2)
    first = store.insert(table)
    again = store.insert(table)
    assert (first.received, first.stored, first.duplicates) == (12, 12, 0)
    assert (again.received, again.stored, again.duplicates) == (12, 0, 12)
    assert store.span_count() == 12


def test_a_resent_batch_mixed_with_new_spans_stores_only_the_new_ones(store: DuckStore) -> None:
    store.insert(spans(1))
    result = store.insert(spans(1, 2))
    assert (result.received, result.stored) == (12, 6)
    assert store.span_count() == 12
    assert rows_per_id(store) == []


def test_duplicates_inside_one_table_are_stored_once(store: DuckStore) -> None:
    table = spans(1)
    result = store.insert(pa.concat_tables([table, table, table]))
    assert (result.received, result.stored) == (18, 6)
    assert store.span_count() == 6
    assert rows_per_id(store) == []


def test_each_insert_is_one_recorded_batch(store: DuckStore) -> None:
    a = store.insert(spans(1))
    b = store.insert(spans(1, 2))
    assert b.batch_id > a.batch_id
    batches = store.con.execute(
        "SELECT batch_id, received, stored, min_timestamp < max_timestamp FROM auditor_batches "
        "ORDER BY batch_id"
    ).fetchall()
    assert batches == [(a.batch_id, 6, 6, True), (b.batch_id, 12, 6, True)]
    stored_by_batch = store.con.execute(
        'SELECT "BatchId", count(*) FROM otel_traces GROUP BY 1 ORDER BY 1'
    ).fetchall()
    assert stored_by_batch == [(a.batch_id, 6), (b.batch_id, 6)]


def test_an_empty_table_is_not_a_batch(store: DuckStore) -> None:
    result = store.insert(spans(1).slice(0, 0))
    assert (result.received, result.stored) == (0, 0)
    assert store.con.execute("SELECT count(*) FROM auditor_batches").fetchall() == [(0,)]


def test_the_same_ids_with_a_start_time_outside_the_batch_window_are_stored_again(
    store: DuckStore,
) -> None:
    # Not a re-send (a client never changes a span's start time when it retries), so the
    # window does not reach back to it: the store then holds two rows for one (TraceId,
    # SpanId). Documented behaviour; rules must not assume more than this.
    store.insert(spans(1))
    later = store.insert(spans(1, start_ns=BASE_NS + HOUR_NS))
    assert later.stored == 6
    assert store.span_count() == 12
    assert len(rows_per_id(store)) == 6


def test_the_same_ids_at_another_time_are_caught_when_the_batch_window_covers_the_stored_row(
    store: DuckStore,
) -> None:
    # The window is the whole incoming table's, so whether such a span is stored again
    # depends on the company it arrives in (in `serve`, on what else is in the commit group).
    store.insert(spans(1))
    moved = spans(1, start_ns=BASE_NS + HOUR_NS)
    earlier_neighbour = spans(2, start_ns=BASE_NS - HOUR_NS)
    result = store.insert(pa.concat_tables([moved, earlier_neighbour]))
    assert result.stored == 6  # only the neighbour
    assert store.span_count() == 12
    assert rows_per_id(store) == []


def test_a_resent_span_is_caught_however_long_ago_it_was_stored(store: DuckStore) -> None:
    store.insert(spans(1, start_ns=BASE_NS - 400 * 24 * HOUR_NS))
    for n in range(2, 5):
        store.insert(spans(n))
    assert store.insert(spans(1, start_ns=BASE_NS - 400 * 24 * HOUR_NS)).stored == 0
