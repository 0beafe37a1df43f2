"""Realistic job traffic as OTLP protobuf bodies, made fast enough that the clients stay cheap.

One request template is built with the official ``opentelemetry-proto`` classes: Celery, RQ and
BullMQ jobs shaped as real workers emit them (producer span → consumer span with the job's
attributes and a ``job.done`` event → ``smtp.send`` and ``side_effect.confirm`` children; RQ with
``perform``, ``handle_job_success`` and redis client spans; BullMQ with ``job completed`` and
``complete``), grouped per service the way a Collector forwards them. Three markers in the
template are then replaced per request, in the serialized bytes, with no re-encoding:

- ``ID_MARK``, the first 4 bytes of every trace, span, parent and link id → the request number
  (so every request's ids are unique, and the store can tell which requests it holds);
- ``TEXT_MARK``, an 8-character piece of every job id, message id and side-effect key → the
  request number in hex (so attribute values vary per job as they do in real traffic and the
  decoder's attribute cache is not flattered);
- ``TS_MARK``, the high 32 bits of every timestamp → base + request number // 4 (each request is
  a ~4 s slice of traffic, so time moves on and the store's dedup window stays narrow).
"""

from __future__ import annotations

import struct

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

ID_MARK = b"\xfe\xed\xfa\xce"
TEXT_MARK = b"~RQ~~~~~"
_BASE_HIGH = (1_764_316_800 * 10**9) >> 32  # high 32 bits of 2025-11-28T08:00Z in ns
TS_MARK = struct.pack("<I", _BASE_HIGH)

SPANS_PER_JOB = {"celery": 4, "rq": 8, "bullmq": 5}


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _attrs(**values: object) -> list[KeyValue]:
    return [_kv(k.replace("__", "."), v) for k, v in values.items()]


class _Ids:
    def __init__(self) -> None:
        self.traces = 0
        self.spans = 0

    def trace(self) -> bytes:
        self.traces += 1
        return ID_MARK + bytes(8) + self.traces.to_bytes(4, "big")

    def span(self) -> bytes:
        self.spans += 1
        return ID_MARK + self.spans.to_bytes(4, "big")


def _t(offset_us: int) -> int:
    """A timestamp whose high 32 bits are the marker (offsets stay far below 2**32 ns)."""
    return (_BASE_HIGH << 32) + 100_000_000 + offset_us * 1000


def _span(trace: bytes, span: bytes, parent: bytes, name: str, kind: int, start_us: int,
          end_us: int, attributes: list[KeyValue], **more: object) -> Span:  # fmt: skip
    return Span(
        trace_id=trace,
        span_id=span,
        parent_span_id=parent,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        start_time_unix_nano=_t(start_us),
        end_time_unix_nano=_t(end_us),
        attributes=attributes,
        flags=0x300 if parent else 0x100,
        **more,  # type: ignore[arg-type]
    )


def _job_key(system: str, n: int) -> tuple[str, str]:
    job_id = f"5a1f0c8e-{n:04x}-4000-8000-{TEXT_MARK.decode()}0000"
    if system == "bullmq":
        job_id = f"{n}{TEXT_MARK.decode()}"
    return job_id, f"ORD-{n}-{TEXT_MARK.decode()}"


def _effect_spans(
    ids: _Ids, trace: bytes, parent: bytes, t0: int, job_id: str, key: str
) -> list[Span]:
    return [
        _span(trace, ids.span(), parent, "smtp.send", Span.SPAN_KIND_CLIENT, t0, t0 + 9_000,
              _attrs(server__address="127.0.0.1", server__port=8025,
                     network__protocol__name="smtp", email__to__domain="example.test",
                     side_effect__key=key, job__id=job_id)),
        _span(trace, ids.span(), parent, "side_effect.confirm", Span.SPAN_KIND_INTERNAL,
              t0 + 9_100, t0 + 9_100,
              _attrs(side_effect__name="email.sent", side_effect__key=key, job__id=job_id)),
    ]  # fmt: skip


def _done_event(t_us: int, job_id: str, key: str, *extra: Span.Event) -> list[Span.Event]:
    done = Span.Event(
        time_unix_nano=_t(t_us),
        name="job.done",
        attributes=_attrs(job__id=job_id, job__status="completed", side_effect__key=key),
    )
    return [done, *extra]


def celery_job(ids: _Ids, n: int, t0: int) -> tuple[list[Span], list[Span]]:
    """(producer-side spans, worker-side spans)."""
    trace, producer, run = ids.trace(), ids.span(), ids.span()
    job_id, key = _job_key("celery", n)
    task = "shop.send_order_confirmation"
    produced = [
        _span(trace, producer, b"", f"apply_async/{task}", Span.SPAN_KIND_PRODUCER, t0, t0 + 800,
              _attrs(celery__action="apply_async", messaging__message__id=job_id,
                     celery__task_name=task, messaging__destination_kind="queue",
                     messaging__destination="emails"))
    ]  # fmt: skip
    worked = [
        _span(trace, run, producer, f"run/{task}", Span.SPAN_KIND_CONSUMER, t0 + 2_000,
              t0 + 30_000,
              _attrs(celery__action="run", celery__task_name=task, messaging__message__id=job_id,
                     messaging__conversation_id=job_id, celery__state="SUCCESS",
                     celery__delivery_info="{'exchange': '', 'routing_key': 'emails', "
                     "'priority': 0, 'redelivered': False}",
                     messaging__destination="emails", celery__reply_to=job_id,
                     celery__hostname="gen9050@vm"),
              events=_done_event(t0 + 25_000, job_id, key)),
        *_effect_spans(ids, trace, run, t0 + 4_000, job_id, key),
    ]  # fmt: skip
    return produced, worked


def rq_job(ids: _Ids, n: int, t0: int) -> tuple[list[Span], list[Span]]:
    trace, publish, consume, perform, success = ids.trace(), *(ids.span() for _ in range(4))
    job_id, key = _job_key("rq", n)
    common = {
        "messaging__system": "Python RQ",
        "messaging__client__id": "vm",
        "rq__job__id": job_id,
        "rq__job__function": "jobs.send_order_confirmation",
    }
    ok = Status(code=Status.STATUS_CODE_OK)
    produced = [
        _span(trace, publish, b"", "publish emails", Span.SPAN_KIND_PRODUCER, t0, t0 + 1_500,
              _attrs(**common, messaging__operation__type="send",
                     messaging__operation__name="publish",
                     messaging__destination__name="emails"), status=ok)
    ]  # fmt: skip
    worked = [
        _span(trace, consume, publish, "consume emails", Span.SPAN_KIND_CONSUMER, t0 + 3_000,
              t0 + 40_000,
              _attrs(**common, messaging__operation__type="process",
                     messaging__operation__name="consume", messaging__destination__name="emails",
                     messaging__consumer__group__name="rqworker-2"), status=ok),
        _span(trace, perform, consume, "perform", Span.SPAN_KIND_CLIENT, t0 + 5_000, t0 + 30_000,
              _attrs(**common, messaging__operation__name="perform"), status=ok,
              events=_done_event(t0 + 28_000, job_id, key)),
        _span(trace, success, consume, "handle_job_success emails", Span.SPAN_KIND_CLIENT,
              t0 + 31_000, t0 + 33_000,
              _attrs(**common, messaging__operation__name="handle_job_success"), status=ok),
        *_effect_spans(ids, trace, perform, t0 + 6_000, job_id, key),
        _span(trace, ids.span(), consume, "HSET HSET HSET EXPIRE HSET HSET LREM",
              Span.SPAN_KIND_CLIENT, t0 + 3_500, t0 + 3_900,
              _attrs(db__system="redis", db__statement="HSET ? ? ?\nHSET ? ? ?\nEXPIRE ? ?",
                     db__redis__database_index=4, db__redis__pipeline_length=7,
                     net__peer__name="127.0.0.1", net__peer__port=6379,
                     net__transport="ip_tcp")),
        _span(trace, ids.span(), perform, "INCRBY", Span.SPAN_KIND_CLIENT, t0 + 7_000,
              t0 + 7_200,
              _attrs(db__system="redis", db__statement="INCRBY ? ?",
                     db__redis__database_index=4, db__redis__args_length=3,
                     net__peer__name="127.0.0.1", net__peer__port=6379,
                     net__transport="ip_tcp")),
    ]  # fmt: skip
    return produced, worked


def bullmq_job(ids: _Ids, n: int, t0: int) -> tuple[list[Span], list[Span]]:
    trace, add, process, complete = ids.trace(), ids.span(), ids.span(), ids.span()
    job_id, key = _job_key("bullmq", n)
    queue = {"bullmq__queue__name": "emails"}
    produced = [
        _span(trace, add, b"", "add emails.send-order-confirmation", Span.SPAN_KIND_PRODUCER,
              t0, t0 + 1_000,
              _attrs(**queue, bullmq__queue__operation="add",
                     bullmq__job__name="send-order-confirmation", bullmq__job__id=job_id))
    ]  # fmt: skip
    completed = Span.Event(
        time_unix_nano=_t(t0 + 21_000),
        name="job completed",
        attributes=_attrs(bullmq__job__result='{"order":"' + key + '","status":"sent"}'),
    )
    worked = [
        _span(trace, process, add, "process emails", Span.SPAN_KIND_CONSUMER, t0 + 2_000,
              t0 + 22_000,
              _attrs(**queue, bullmq__queue__operation="process",
                     bullmq__worker__id="9b2c7d7e-55aa-4cde-9d43-1f1e2d3c4b5a",
                     bullmq__worker__name="bullworker-1", bullmq__job__id=job_id,
                     bullmq__job__name="send-order-confirmation", bullmq__job__attempts__made=1,
                     bullmq__job__attempt_finished_timestamp=1764316800123,
                     bullmq__job__processed__timestamp=1764316800101),
              events=_done_event(t0 + 20_500, job_id, key, completed)),
        _span(trace, complete, process, "complete emails", Span.SPAN_KIND_INTERNAL, t0 + 21_000,
              t0 + 21_500,
              _attrs(**queue, bullmq__job__name="send-order-confirmation",
                     bullmq__job__id=job_id)),
        *_effect_spans(ids, trace, process, t0 + 3_000, job_id, key),
    ]  # fmt: skip
    return produced, worked


_JOBS = {"celery": celery_job, "rq": rq_job, "bullmq": bullmq_job}
_SERVICES = {
    "celery": ("shop-celery-worker", "opentelemetry.instrumentation.celery", "0.66b2"),
    "rq": ("shop-rq-worker", "opentelemetry_instrumentation_rq.instrumentor", ""),
    "bullmq": ("shop-bullmq-worker", "bullmq", "6"),
}


def _resource(service: str, language: str) -> Resource:
    return Resource(
        attributes=_attrs(
            service__name=service,
            telemetry__sdk__language=language,
            telemetry__sdk__name="opentelemetry",
            telemetry__sdk__version="1.45.2" if language == "python" else "2.12.0",
            process__pid=4242,
            host__name="vm",
        )
    )


def template(spans_per_request: int) -> bytes:
    """The serialized request template with exactly ``spans_per_request`` spans."""
    ids = _Ids()
    produced: dict[str, list[Span]] = {s: [] for s in _JOBS}
    worked: dict[str, list[Span]] = {s: [] for s in _JOBS}
    total, n, order = 0, 0, ("celery", "rq", "bullmq")
    while True:
        system = order[n % 3]
        if total + SPANS_PER_JOB[system] > spans_per_request:
            break
        p, w = _JOBS[system](ids, n, (n % 64) * 12_000)
        produced[system] += p
        worked[system] += w
        total += len(p) + len(w)
        n += 1
    # fill up with RQ's idle-loop redis roots, the most common span of all in real RQ traffic
    idle = [
        _span(ids.trace(), ids.span(), b"", "BLMOVE", Span.SPAN_KIND_CLIENT, i * 1000,
              i * 1000 + 500_000,
              _attrs(db__system="redis", db__statement="BLMOVE ? ? ? ? ?",
                     db__redis__database_index=4, db__redis__args_length=6,
                     net__peer__name="127.0.0.1", net__peer__port=6379, net__transport="ip_tcp"))
        for i in range(spans_per_request - total)
    ]  # fmt: skip
    resource_spans = [
        ResourceSpans(
            resource=_resource("shop-api", "python"),
            scope_spans=[
                ScopeSpans(
                    scope=InstrumentationScope(name=_SERVICES[s][1], version=_SERVICES[s][2]),
                    spans=produced[s],
                )
                for s in order
            ],
        )
    ]
    for s in order:
        service, scope, version = _SERVICES[s]
        spans = worked[s] + (idle if s == "rq" else [])
        resource_spans.append(
            ResourceSpans(
                resource=_resource(service, "nodejs" if s == "bullmq" else "python"),
                scope_spans=[
                    ScopeSpans(scope=InstrumentationScope(name=scope, version=version), spans=spans)
                ],
            )
        )
    body = ExportTraceServiceRequest(resource_spans=resource_spans).SerializeToString()
    ids_in_body = ids.traces * 1 + ids.spans  # every trace id appears once per span, below
    assert body.count(ID_MARK) >= ids_in_body, "id marker lost"
    return body


def body_for(template_body: bytes, n: int) -> bytes:
    """Request number ``n`` (1 ≤ n < 2**32): unique ids, job ids and its own time slice."""
    return (
        template_body.replace(TS_MARK, struct.pack("<I", _BASE_HIGH + n // 4))
        .replace(ID_MARK, n.to_bytes(4, "big"))
        .replace(TEXT_MARK, b"%08x" % n)
    )


def check(template_body: bytes, spans_per_request: int, samples: list[int]) -> None:
    """Decode a few bodies and make sure the markers were replaced where they should be."""
    request = ExportTraceServiceRequest.FromString(template_body)
    marked = sum(
        1 + (1 if s.parent_span_id else 0) + 1
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
    )
    assert template_body.count(ID_MARK) == marked, "the id marker occurs outside ids"
    for n in samples:
        req = ExportTraceServiceRequest.FromString(body_for(template_body, n))
        spans = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        assert len(spans) == spans_per_request
        prefix = n.to_bytes(4, "big")
        high = _BASE_HIGH + n // 4
        for s in spans:
            assert s.trace_id[:4] == s.span_id[:4] == prefix
            assert not s.parent_span_id or s.parent_span_id[:4] == prefix
            assert s.start_time_unix_nano >> 32 == high and s.end_time_unix_nano >> 32 == high
            for kv in s.attributes:
                assert "~RQ~" not in kv.value.string_value
