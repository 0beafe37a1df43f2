"""Reconciler rows → confirmations (pure): identity, attributes, times, column checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.errors import UsageError
from auditor.reconcile.rows import Columns, check_columns, confirmation, span_ids
from auditor.reconcile.sources import redact


def test_a_row_becomes_a_confirmation_with_the_probe_convention():
    columns = Columns(
        "email.sent", time_column="sent_at", system="celery", attribute_columns=("to",)
    )
    row = {"key": "N-1", "job_id": 42, "sent_at": datetime(2026, 1, 2, tzinfo=UTC), "to": "a@b"}
    found = confirmation(row, columns)
    assert found is not None and found.ok
    assert found.attributes == {
        "side_effect.name": "email.sent", "side_effect.key": "N-1", "job.id": "42",
        "job.system": "celery", "reconcile.to": "a@b", "side_effect.status": "ok",
    }  # fmt: skip
    assert found.time_ns == int(datetime(2026, 1, 2, tzinfo=UTC).timestamp() * 1e9)


def test_a_row_without_key_or_job_id_is_skipped():
    assert confirmation({"key": None, "job_id": " "}, Columns("e")) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1767323045, 1767323045),
        (1767323045123, 1767323045.123),
        ("2026-01-02T03:04:05Z", 1767323045),
    ],
)
def test_times_are_epoch_seconds_milliseconds_or_iso(value, seconds):
    found = confirmation({"key": "k", "t": value}, Columns("e", time_column="t"))
    assert found is not None and abs(found.time_ns - seconds * 1e9) < 1e3


def test_a_time_that_is_not_a_time_is_a_usage_error():
    with pytest.raises(UsageError, match="column 't' holds 'yesterday'"):
        confirmation({"key": "k", "t": "yesterday"}, Columns("e", time_column="t"))


def test_status_column_marks_failures_and_they_have_their_own_identity():
    columns = Columns("e", status_column="status")
    bad = confirmation({"key": "k", "status": "bounced"}, columns)
    good = confirmation({"key": "k", "status": "sent"}, columns)
    assert bad is not None and good is not None
    assert not bad.ok and bad.attributes["side_effect.status"] == "error"
    assert good.ok and bad.identity != good.identity


def test_span_ids_are_derived_from_the_identity():
    assert span_ids("a") == span_ids("a")
    assert span_ids("a") != span_ids("b")
    trace_id, span_id = span_ids("a")
    assert 0 < trace_id < 2**128 and 0 < span_id < 2**64


def test_missing_columns_are_named_with_the_ones_that_exist():
    with pytest.raises(UsageError, match="columns are: one, two"):
        check_columns(["one", "two"], Columns("e"))
    with pytest.raises(UsageError, match="--time-column 'when'"):
        check_columns(["key"], Columns("e", time_column="when"))


def test_passwords_are_redacted_from_dsns():
    assert redact("postgresql://app:s3cret@db/shop") == "postgresql://app:***@db/shop"
    assert redact("host=db password=s3cret user=app") == "host=db password=*** user=app"
