"""The store stamps commits (``IngestedAt``, ``auditor_batches.committed_at``) with its
clock's time in UTC, whatever the database session's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from auditor.clock import FixedClock
from auditor.otlp.otlpjson import decode_json_object
from auditor.rules.testing import spans_to_request
from auditor.store.duck import DuckStore

SPAN = {"trace": "t1", "span": "s1", "name": "work", "start": "0ms", "end": "1ms"}


def test_commits_are_stamped_with_the_clocks_utc_time() -> None:
    clock = FixedClock.at(datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    with DuckStore(":memory:", clock=clock) as store:
        # DuckDB's own now() would be read in this zone: 07:30, not 12:30.
        store.con.execute("SET TimeZone = 'America/New_York'")
        store.insert(decode_json_object(spans_to_request([SPAN])).to_arrow())
        clock.advance(90)
        store.insert(decode_json_object(spans_to_request([{**SPAN, "span": "s2"}])).to_arrow())
        ingested = store.con.execute(
            'SELECT "IngestedAt" FROM otel_traces ORDER BY "BatchId"'
        ).fetchall()
        committed = store.con.execute(
            "SELECT committed_at FROM auditor_batches ORDER BY batch_id"
        ).fetchall()
    first, second = datetime(2026, 3, 1, 12, 30), datetime(2026, 3, 1, 12, 31, 30)
    assert [row[0] for row in ingested] == [first, second]
    assert [row[0] for row in committed] == [first, second]
