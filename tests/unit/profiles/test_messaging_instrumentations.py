"""The ``messaging`` profile on spans shaped exactly as the Python messaging instrumentations
emit them, read from their sources (opentelemetry-instrumentation-pika 0.66b1 and 0.48b0,
-aio-pika 0.66b1, -confluent-kafka 0.66b1, -kafka-python 0.66b1): span names, kinds,
parentage and attributes. No Kafka broker runs where these tests run, so the Kafka shapes are
fixtures written from the instrumentations' code, not captures; pika and aio-pika are also
captured from a real RabbitMQ by tests/integration/probes/test_plain_consumers.py.
"""

from __future__ import annotations

from typing import Any

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.rules.testing import _id
from tests.unit.engine.scanning import derived, store_with_spans

PIKA = "opentelemetry.instrumentation.pika.pika_instrumentor"
AIO_PIKA = "opentelemetry.instrumentation.aio_pika"
_NET = {"net.peer.name": "127.0.0.1", "net.peer.port": 5672}


def _tables(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    with store_with_spans(spans) as store:
        return derived(store, load_catalog([], packs=False).profiles)


def _findings(spans: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    with store_with_spans(spans) as store:
        found = evaluate(store.con, load_catalog([]), evidence=False).findings
    return sorted((f.rule_id, f.kind, f.job_id) for f in found)


def pika_publish(
    trace: str, queue: str, message_id: str, *, destination: str | None = None
) -> list[dict]:
    """BlockingChannel.basic_publish: the blocking channel's span, and under it the span of
    the Channel it delegates to; both ``<routing key> send`` with the temp_destination flag."""
    attributes = {"messaging.system": "rabbitmq", "messaging.temp_destination": True,
                  "messaging.destination": destination or queue,
                  "messaging.message.id": message_id, **_NET}  # fmt: skip
    return [
        {"trace": trace, "span": f"{trace}-pub", "name": f"{queue} send", "kind": "producer",
         "scope": PIKA, "start": "0ms", "end": "2ms", "attributes": attributes},
        {"trace": trace, "span": f"{trace}-pub-inner", "parent": f"{trace}-pub",
         "name": f"{queue} send", "kind": "producer", "scope": PIKA, "start": "0ms",
         "end": "1ms", "attributes": attributes},
    ]  # fmt: skip


def pika_receive(trace: str, queue: str, message_id: str, *, destination: str | None = None,
                 events: list[dict] | None = None, extra: dict | None = None,
                 status: str = "unset", start: str = "5ms") -> dict:  # fmt: skip
    """The span around the consumer callback, a child of the inner publish span."""
    return {"trace": trace, "span": f"{trace}-recv-{start}", "parent": f"{trace}-pub-inner",
            "name": f"{queue} receive", "kind": "consumer", "scope": PIKA, "start": start,
            "end": "20ms", "status": status, "events": events or [],
            "attributes": {"messaging.system": "rabbitmq", "messaging.operation": "receive",
                           "messaging.destination": destination or queue,
                           "messaging.message.id": message_id, **_NET, **(extra or {})}}  # fmt: skip


DONE = [{"name": "job.done", "at": "10ms"}]


def test_pika_066_a_receive_is_a_run_named_by_its_queue_and_one_publish_one_enqueue() -> None:
    spans = [*pika_publish("t1", "orders", "m1"), pika_receive("t1", "orders", "m1", events=DONE)]
    tables = _tables(spans)

    (run,) = tables["job_runs"]
    assert (run["profile"], run["system"], run["job_id"], run["job_name"], run["queue"]) == (
        "messaging", "rabbitmq", "m1", "orders", "orders",
    )  # fmt: skip
    assert (run["outcome"], run["attempt"]) == ("done", 1)
    assert run["done_ns"] is not None
    (enqueue,) = tables["enqueues"]  # one of the two nested publish spans: the outer
    assert (enqueue["job_id"], enqueue["job_name"], enqueue["span_id"]) == (
        "m1", "orders", _id("t1-pub", 8),
    )  # fmt: skip


def test_a_lost_pika_message_is_one_lost_job_not_one_per_nested_publish_span() -> None:
    spans = [*pika_publish("t1", "orders", "m1"), pika_receive("t1", "orders", "m1")]
    spans += pika_publish("t2", "nobody-consumes", "m2")
    assert _findings(spans) == [("messaging-jobs-run", "lost_job", "m2")]


def test_pika_receive_outcomes_follow_the_probes_marks() -> None:
    declared = {"job.expected_effects": ["email.sent"]}
    spans = [
        # no probes on it: the handler returned
        pika_receive("a", "q", "plain"),
        # declared effects, marked done
        pika_receive("b", "q", "done", events=DONE, extra=declared),
        # declared effects, never marked done (nacked): claimed nothing
        pika_receive("c", "q", "nacked", extra=declared),
        # job_run annotations without a job.name (else the probes profile takes it)
        pika_receive("d", "q", "retried", extra={"job.outcome": "retry"}),
        pika_receive("e", "q", "failed", extra={"job.outcome": "failed"}),
        pika_receive("f", "q", "raised", status="error"),
    ]
    outcomes = {r["job_id"]: r["outcome"] for r in _tables(spans)["job_runs"]}
    assert outcomes == {"plain": "done", "done": "done", "nacked": "unknown",
                        "retried": "retry", "failed": "failed", "raised": "failed"}  # fmt: skip


def test_a_pika_receive_annotated_by_job_run_belongs_to_the_probes_profile() -> None:
    run = pika_receive("t", "orders", "m1", events=DONE, extra={
        "job.system": "rabbitmq", "job.id": "m1", "job.name": "send_receipt",
        "job.outcome": "done", "job.attempt": 2, "job.key": "ORD-1"})  # fmt: skip
    (row,) = _tables([*pika_publish("t", "orders", "m1"), run])["job_runs"]
    assert (row["profile"], row["system"], row["job_name"], row["attempt"]) == (
        "probes", "rabbitmq", "send_receipt", 2,
    )  # fmt: skip
    assert _findings([*pika_publish("t", "orders", "m1"), run]) == []


def test_pika_048_names_jobs_by_the_type_property_in_messaging_destination() -> None:
    # 0.48b0 writes its task_name into messaging.destination: the type property when the
    # message has one, else the consumer tag (receive) or "(temporary)" (send)
    typed = [
        *pika_publish("t1", "orders", "m1", destination="send_receipt"),
        pika_receive("t1", "orders", "m1", destination="send_receipt"),
    ]
    untyped = [
        *pika_publish("t2", "orders", "m2", destination="(temporary)"),
        pika_receive("t2", "orders", "m2", destination="ctag1.5c0a7e4d2b3f"),
    ]
    tables = _tables(typed + untyped)
    assert sorted((r["job_id"], r["job_name"]) for r in tables["job_runs"]) == [
        ("m1", "send_receipt"), ("m2", "orders receive"),
    ]  # fmt: skip
    assert sorted((q["job_id"], q["job_name"]) for q in tables["enqueues"]) == [
        ("m1", "send_receipt"), ("m2", "orders send"),
    ]  # fmt: skip


def test_aio_pika_publish_and_receive() -> None:
    attributes = {"messaging.system": "rabbitmq", **_NET}
    spans = [
        {"trace": "t", "span": "p", "name": ",orders send", "kind": "producer", "scope": AIO_PIKA,
         "attributes": {**attributes, "messaging.destination": ",orders",
                        "messaging.temp_destination": True, "messaging.message.id": "m1"}},
        {"trace": "t", "span": "r", "parent": "p", "name": "orders receive", "kind": "consumer",
         "scope": AIO_PIKA, "start": "3ms", "end": "9ms", "events": DONE,
         "attributes": {**attributes, "messaging.destination": "orders",
                        "messaging.operation": "receive", "messaging.message.id": "m1"}},
    ]  # fmt: skip
    tables = _tables(spans)
    assert [(r["job_id"], r["job_name"], r["outcome"]) for r in tables["job_runs"]] == [
        ("m1", "orders", "done")
    ]
    assert [(q["job_id"], q["job_name"]) for q in tables["enqueues"]] == [("m1", ",orders")]


def test_confluent_kafka_poll_process_span_is_a_run_its_send_has_no_id_to_match() -> None:
    kafka = {"messaging.system": "kafka", "messaging.destination": "orders",
             "messaging.destination_kind": "queue", "server.address": "127.0.0.1",
             "server.port": 9092}  # fmt: skip
    spans = [
        # produce(): the offset is not known yet, so there is no message id
        {"trace": "t", "span": "p", "name": "orders send", "kind": "producer",
         "attributes": {**kafka, "messaging.operation": "publish"}},
        # poll(): an attribute-less "recv" span, under it "<topic> process" (linked to the
        # producer), ended at the next poll
        {"trace": "c", "span": "recv", "name": "recv", "kind": "consumer"},
        {"trace": "c", "span": "proc", "parent": "recv", "name": "orders process",
         "kind": "consumer", "links": [{"trace": "t", "span": "p"}], "events": DONE,
         "attributes": {**kafka, "messaging.operation": "process",
                        "messaging.kafka.partition": 0, "messaging.message.id": "orders.0.42"}},
    ]  # fmt: skip
    tables = _tables(spans)
    assert [(r["job_id"], r["job_name"], r["outcome"]) for r in tables["job_runs"]] == [
        ("orders.0.42", "orders", "done")
    ]
    assert tables["enqueues"] == []


def test_kafka_python_spans_carry_no_message_id_so_job_run_and_enqueue_make_the_job() -> None:
    kafka = {"messaging.system": "kafka", "messaging.destination": "orders",
             "messaging.kafka.partition": 0, "messaging.url": '["127.0.0.1:9092"]'}  # fmt: skip
    instrumentation = [
        {"trace": "t", "span": "s", "name": "orders send", "kind": "producer", "attributes": kafka},
        # ends inside next(), before the application handles the record
        {"trace": "t", "span": "r", "parent": "s", "name": "orders receive", "kind": "consumer",
         "attributes": kafka},
    ]  # fmt: skip
    assert _tables(instrumentation)["job_runs"] == []
    assert _tables(instrumentation)["enqueues"] == []
    # probes.enqueue in the producer and probes.job_run in the consumer, with an id the
    # message carries
    probes = [
        {"trace": "t", "span": "e", "parent": "s0", "name": "orders send", "kind": "producer",
         "scope": "probes", "attributes": {"messaging.system": "kafka",
         "messaging.message.id": "ORD-1", "messaging.destination.name": "orders",
         "messaging.operation.type": "send", "job.name": "ship_order"}},
        {"trace": "t", "span": "j", "name": "run ship_order", "kind": "consumer",
         "scope": "probes", "events": DONE, "attributes": {"job.system": "kafka",
         "job.id": "ORD-1", "job.name": "ship_order", "job.outcome": "done"}},
    ]  # fmt: skip
    tables = _tables(probes)
    assert [
        (q["profile"], q["system"], q["job_id"], q["job_name"]) for q in tables["enqueues"]
    ] == [("messaging", "kafka", "ORD-1", "ship_order")]
    assert [(r["profile"], r["job_id"]) for r in tables["job_runs"]] == [("probes", "ORD-1")]
    assert _findings(probes) == []
    assert _findings(probes[:1]) == [("messaging-jobs-run", "lost_job", "ORD-1")]


def test_a_publish_that_failed_is_no_enqueue() -> None:
    spans = [{"trace": "t", "span": "p", "name": "orders send", "kind": "producer",
              "status": "error", "attributes": {"messaging.system": "rabbitmq",
              "messaging.operation.type": "send", "messaging.message.id": "m1"}}]  # fmt: skip
    assert _tables(spans)["enqueues"] == []


def test_a_rule_correlating_by_the_business_key_of_job_run_needs_no_trace(tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: receipts-sent\n"
        "    severity: high\n"
        "    jobs: {system: rabbitmq, name: send_receipt}\n"
        "    expect: {effect: email.sent, correlate: key,\n"
        "             key: {job: job.key, effect: side_effect.key}}\n"
        "    checks: [confirmed]\n"
    )

    def run(trace: str, message_id: str, order: str) -> dict:
        return pika_receive(trace, "orders", message_id, events=DONE, extra={
            "job.system": "rabbitmq", "job.id": message_id, "job.name": "send_receipt",
            "job.key": order, "job.outcome": "done"})  # fmt: skip

    spans = [
        run("t1", "m1", "ORD-1"),
        run("t2", "m2", "ORD-2"),
        # confirmed by a reconciler, in a trace of its own, with the order as its key only
        {"trace": "r", "span": "c", "name": "side_effect.confirm", "start": "8ms", "end": "9ms",
         "attributes": {"side_effect.name": "email.sent", "side_effect.key": "ORD-1"}},
    ]  # fmt: skip
    with store_with_spans(spans) as store:
        found = evaluate(store.con, load_catalog([rules], packs=False), evidence=False).findings
    assert sorted((f.rule_id, f.kind, f.job_id) for f in found) == [
        ("receipts-sent", "unconfirmed_done", "m2")
    ]
