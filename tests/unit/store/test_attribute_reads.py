"""What a rule reads from a stored attribute (``SpanAttributes->>'key'``, a string) for every
OTLP value type: the "reads as" column of the table in ``auditor/otlp/values.py``."""

from __future__ import annotations

import pytest

from auditor.otlp.protobuf import decode_protobuf
from auditor.store.duck import DuckStore
from tests.unit.otlp.builders import job_request

READS_AS = {
    "string": "ORD-1001",
    "string.empty": "",
    "string.unicode": 'Grüße ✉ "quoted" \\ \n',
    "int": "8025",
    "int.negative": "-9223372036854775808",
    "int.max": "9223372036854775807",
    "double": "1.5",
    "double.nan": "NaN",
    "double.inf": "Infinity",
    "bool.true": "true",
    "bool.false": "false",
    "bytes": "AAH+/w==",
    "array": '["a",1,2.5,true]',
    "array.empty": "[]",
    "kvlist": '{"queue":"emails","attempt":2}',
    "kvlist.empty": "{}",
    "empty": None,
    "not.there": None,
}


@pytest.fixture(scope="module")
def store():  # type: ignore[no-untyped-def]
    with DuckStore(":memory:") as s:
        s.insert(decode_protobuf(job_request().SerializeToString()).to_arrow())
        yield s


@pytest.mark.parametrize("key", READS_AS)
def test_an_attribute_reads_as_the_string_values_py_promises(store: DuckStore, key: str) -> None:
    rows = store.con.execute(
        """SELECT "SpanAttributes"->>? FROM otel_traces WHERE "SpanName" = 'crm.update'""",
        [key],
    ).fetchall()
    assert rows == [(READS_AS[key],)]


def test_event_and_link_attributes_read_the_same_way(store: DuckStore) -> None:
    rows = store.con.execute(
        """SELECT "Events.Attributes"[1]->>'side_effect.key', "Links.Attributes"[1]->>'bullmq.job.id'
           FROM otel_traces ORDER BY "Timestamp" """
    ).fetchall()
    assert ("ORD-1001", None) in rows
    assert (None, "3") in rows


def test_resource_attributes_and_service_name_are_stored(store: DuckStore) -> None:
    rows = store.con.execute(
        """SELECT DISTINCT "ServiceName", "ResourceAttributes"->>'process.pid' FROM otel_traces"""
    ).fetchall()
    assert rows == [("shop-celery-worker", "4242")]


@pytest.mark.parametrize("value,json_text", [(3.0, "3.0"), (2.5, "2.5")])
def test_a_double_reads_in_json_spelling_and_compares_as_a_number(
    value: float, json_text: str
) -> None:
    # values.py: doubles read as JSON spells them ("3.0", where the Collector writes "3");
    # a rule comparing numerically sees the same value either way.
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

    request = job_request()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes[0].value.CopyFrom(AnyValue(double_value=value))
    with DuckStore(":memory:") as s:
        s.insert(decode_protobuf(request.SerializeToString()).to_arrow())
        key = span.attributes[0].key
        rows = s.con.execute(
            """SELECT "SpanAttributes"->>?, CAST("SpanAttributes"->>? AS DOUBLE) = ?
               FROM otel_traces WHERE "SpanName" = ?""",
            [key, key, value, span.name],
        ).fetchall()
    assert rows == [(json_text, True)]
