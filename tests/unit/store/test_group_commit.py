"""``GroupCommitWriter``: many requests, one transaction, and nobody is told "stored" before the
commit. Against a real DuckDB store; ``GatedStore`` only holds a commit back until the test lets
it go, so that requests queue up behind it the way they do under load."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from auditor.otlp.protobuf import decode_protobuf
from auditor.store.duck import DuckStore, InsertResult
from auditor.store.writer import GroupCommitWriter, Overloaded
from tests.unit.otlp.builders import job_request

SPANS_PER_REQUEST = 6


def request_table(n: int) -> pa.Table:
    return decode_protobuf(job_request(n).SerializeToString()).to_arrow()


class GatedStore(DuckStore):
    """A real store whose first ``insert`` waits until ``gate`` is set."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.inserting = threading.Event()
        self.first = True

    def insert(self, table: pa.Table) -> InsertResult:
        self.inserting.set()
        if self.first:
            self.first = False
            assert self.gate.wait(10)
        return super().insert(table)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GatedStore]:
    s = GatedStore(tmp_path / "auditor.duckdb")
    yield s
    s.close()


def committed_count(reader: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Spans of ``table`` that a *separate* connection sees: only committed rows are visible."""
    ids = table.column("SpanId").to_pylist()
    placeholders = ", ".join("?" for _ in ids)
    row = reader.execute(
        f'SELECT count(*) FROM otel_traces WHERE "SpanId" IN ({placeholders})', ids
    ).fetchall()
    return int(row[0][0])


def test_every_future_resolves_only_after_its_spans_are_committed(store: GatedStore) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    reader = store.cursor()
    seen_at_resolution: dict[int, int] = {}
    lock = threading.Lock()

    def check(n: int, table: pa.Table) -> object:
        def on_done(future: Future[InsertResult]) -> None:
            # runs in the writer thread, right after set_result
            with lock:
                seen_at_resolution[n] = committed_count(reader, table)

        return on_done

    tables = {n: request_table(n) for n in range(1, 11)}
    futures = {}
    for n, table in tables.items():
        futures[n] = writer.submit(table)
        futures[n].add_done_callback(check(n, table))  # type: ignore[arg-type]
        if n == 1:
            assert store.inserting.wait(5)  # the first group is being committed, and held
    assert not any(f.done() for f in futures.values())  # nothing is acknowledged yet
    assert committed_count(reader, tables[1]) == 0
    store.gate.set()
    _done, not_done = wait(futures.values(), timeout=10)
    writer.stop()
    assert not not_done
    assert seen_at_resolution == {n: SPANS_PER_REQUEST for n in tables}


def test_requests_that_queue_during_a_commit_form_the_next_group(store: GatedStore) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    first = writer.submit(request_table(1))
    assert store.inserting.wait(5)
    queued = [writer.submit(request_table(n)) for n in range(2, 12)]
    store.gate.set()
    results = [f.result(timeout=10) for f in queued]
    writer.stop()
    assert first.result().stored == SPANS_PER_REQUEST
    # one transaction for all ten queued requests: every future reports the same commit
    assert {r.batch_id for r in results} == {first.result().batch_id + 1}
    assert results[0].received == results[0].stored == 10 * SPANS_PER_REQUEST
    assert writer.commits == 2
    assert writer.stored == store.span_count() == 11 * SPANS_PER_REQUEST
    assert writer.pending_spans == 0


def test_groups_are_cut_at_max_group_spans(store: GatedStore) -> None:
    writer = GroupCommitWriter(store, max_group_spans=3 * SPANS_PER_REQUEST)
    writer.start()
    writer.submit(request_table(1))
    assert store.inserting.wait(5)
    queued = [writer.submit(request_table(n)) for n in range(2, 8)]
    store.gate.set()
    batch_ids = [f.result(timeout=10).batch_id for f in queued]
    writer.stop()
    assert len(set(batch_ids)) == 2  # 6 queued requests in groups of 3


def test_submit_raises_overloaded_when_pending_spans_would_exceed_the_limit(
    store: GatedStore,
) -> None:
    writer = GroupCommitWriter(store, max_pending_spans=2 * SPANS_PER_REQUEST)
    # not started yet: nothing gets committed, so everything submitted stays pending
    a = writer.submit(request_table(1))
    b = writer.submit(request_table(2))
    assert writer.pending_spans == 2 * SPANS_PER_REQUEST
    with pytest.raises(Overloaded, match="12 spans are waiting to be committed"):
        writer.submit(request_table(3))
    assert writer.pending_spans == 2 * SPANS_PER_REQUEST  # the refused request left no trace
    store.gate.set()
    writer.start()
    # both in one group: each future holds the group's InsertResult
    assert a.result(timeout=10) == b.result(timeout=10)
    assert a.result().stored == store.span_count() == 2 * SPANS_PER_REQUEST
    assert writer.pending_spans == 0
    # room again: the retried request is accepted
    assert writer.submit(request_table(3)).result(timeout=10).stored == SPANS_PER_REQUEST
    writer.stop()


def test_a_request_larger_than_the_limit_is_accepted_when_nothing_is_pending(
    store: GatedStore,
) -> None:
    # otherwise a request over max_pending_spans could never be stored, however often retried
    writer = GroupCommitWriter(store, max_pending_spans=1)
    future = writer.submit(request_table(1))
    with pytest.raises(Overloaded):
        writer.submit(request_table(2))
    store.gate.set()
    writer.start()
    assert future.result(timeout=10).stored == SPANS_PER_REQUEST
    writer.stop()


def test_a_failing_commit_sets_the_exception_on_every_future_of_its_group(
    store: GatedStore,
) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    first = writer.submit(request_table(1))
    assert store.inserting.wait(5)
    good = [writer.submit(request_table(n)) for n in (2, 3)]
    # a table the store's NOT NULL constraint refuses: the whole group's transaction fails
    poison = request_table(4)
    poison = poison.set_column(
        poison.schema.get_field_index("SpanName"),
        "SpanName",
        pa.array([None] * poison.num_rows, pa.string()),
    )
    bad = writer.submit(poison)
    store.gate.set()
    assert first.result(timeout=10).stored == SPANS_PER_REQUEST
    group = [*good, bad]
    wait(group, timeout=10)
    errors = [f.exception() for f in group]
    assert all(isinstance(e, duckdb.ConstraintException) for e in errors)
    assert len({id(e) for e in errors}) == 1  # the same failure, told to everyone
    # nothing of the failed group is stored, and the writer keeps going
    assert store.span_count() == SPANS_PER_REQUEST
    assert writer.pending_spans == 0
    assert writer.submit(request_table(2)).result(timeout=10).stored == SPANS_PER_REQUEST
    writer.stop()
    assert writer.commits == 2


def test_stop_commits_everything_already_submitted(store: GatedStore) -> None:
    writer = GroupCommitWriter(store)
    writer.start()
    writer.submit(request_table(1))
    assert store.inserting.wait(5)
    queued = [writer.submit(request_table(n)) for n in range(2, 6)]
    store.gate.set()
    writer.stop()
    assert all(f.done() and f.exception() is None for f in queued)
    assert store.span_count() == 5 * SPANS_PER_REQUEST


def test_on_commit_is_told_each_commit_and_its_failure_does_not_fail_the_requests(
    store: GatedStore,
) -> None:
    seen: list[InsertResult] = []

    def on_commit(result: InsertResult) -> None:
        seen.append(result)
        raise RuntimeError("a broken listener")

    store.gate.set()
    writer = GroupCommitWriter(store, on_commit=on_commit)
    writer.start()
    result = writer.submit(request_table(1)).result(timeout=10)
    writer.stop()
    assert seen == [result]
