"""Assert in your own tests that your jobs confirm their side effects.

    from probes.testing import assert_confirmed, span_recorder

    def test_receipt_is_confirmed():
        spans = span_recorder()           # or the ``probe_spans`` pytest fixture
        spans.clear()
        send_receipt("ORD-1")             # your job function, called directly or by a worker
        assert_confirmed(spans, "email.sent", key="ORD-1")

``span_recorder()`` hooks an in-memory exporter into the global tracer provider (installing an
SDK ``TracerProvider`` as the global one when none is set yet), so probes in the code under
test record without any setup. Needs ``opentelemetry-sdk`` (a test dependency, not a
dependency of ``probes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from probes import semconv

__all__ = [
    "SpanRecorder",
    "assert_confirmed",
    "assert_not_confirmed",
    "assert_skipped",
    "confirmations",
    "global_sdk_provider",
    "skips",
    "span_recorder",
]


def global_sdk_provider() -> TracerProvider:
    """The global SDK tracer provider; installs one when the global provider is the API's."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # someone else set a non-SDK provider
        raise RuntimeError(
            f"the global tracer provider is a {type(provider).__name__}, not an SDK "
            "TracerProvider; pass your provider to SpanRecorder(provider)"
        )
    return provider


class SpanRecorder:
    """Finished spans of one tracer provider, in memory."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = provider or global_sdk_provider()
        self.processor: SpanProcessor = SimpleSpanProcessor(self.exporter)
        self.provider.add_span_processor(self.processor)

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.exporter.get_finished_spans())

    def clear(self) -> None:
        self.exporter.clear()

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def __iter__(self) -> Any:
        return iter(self.spans)


_recorder: SpanRecorder | None = None


def span_recorder() -> SpanRecorder:
    """The process-wide recorder on the global provider (created on first use)."""
    global _recorder
    if _recorder is None:
        _recorder = SpanRecorder()
    return _recorder


def _spans(source: SpanRecorder | Iterable[ReadableSpan]) -> Sequence[ReadableSpan]:
    return source.spans if isinstance(source, SpanRecorder) else list(source)


def confirmations(
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str | None = None,
    *,
    key: str | None = None,
    job_id: str | None = None,
) -> list[ReadableSpan]:
    """The ``side_effect.confirm`` spans matching ``effect`` / ``key`` / ``job_id``."""
    return _named(semconv.SIDE_EFFECT_CONFIRM_SPAN, source, effect, key, job_id)


def skips(
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str | None = None,
    *,
    key: str | None = None,
    job_id: str | None = None,
) -> list[ReadableSpan]:
    """The ``side_effect.skip`` spans (``probes.guard``: the effect was done before)."""
    return _named(semconv.SIDE_EFFECT_SKIP_SPAN, source, effect, key, job_id)


def _named(
    name: str,
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str | None,
    key: str | None,
    job_id: str | None,
) -> list[ReadableSpan]:
    found = []
    for span in _spans(source):
        if span.name != name:
            continue
        attributes = span.attributes or {}
        if effect is not None and attributes.get(semconv.SIDE_EFFECT_NAME) != effect:
            continue
        if key is not None and attributes.get(semconv.SIDE_EFFECT_KEY) != str(key):
            continue
        if job_id is not None and attributes.get(semconv.JOB_ID) != str(job_id):
            continue
        found.append(span)
    return found


def _ok(span: ReadableSpan) -> bool:
    failed = span.status.status_code is StatusCode.ERROR
    return not failed and (span.attributes or {}).get(semconv.SIDE_EFFECT_STATUS) != "error"


def _describe(spans: Sequence[ReadableSpan]) -> str:
    seen = confirmations(spans)
    if not seen:
        return "no side_effect.confirm span was recorded"
    lines = []
    for span in seen:
        a = span.attributes or {}
        lines.append(
            f"  {a.get(semconv.SIDE_EFFECT_NAME)!s} key={a.get(semconv.SIDE_EFFECT_KEY)!s} "
            f"job.id={a.get(semconv.JOB_ID)!s} {'ok' if _ok(span) else 'error'}"
        )
    return "recorded confirmations:\n" + "\n".join(lines)


def assert_confirmed(
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str,
    *,
    key: str | None = None,
    job_id: str | None = None,
    times: int | None = None,
) -> list[ReadableSpan]:
    """Assert ``effect`` was confirmed successfully (exactly ``times`` times, when given)."""
    spans = _spans(source)
    matching = confirmations(spans, effect, key=key, job_id=job_id)
    good = [s for s in matching if _ok(s)]
    what = f"{effect!r}" + (f" key={key!r}" if key is not None else "")
    what += f" job_id={job_id!r}" if job_id is not None else ""
    if not good:
        raise AssertionError(f"{what} was not confirmed; {_describe(spans)}")
    if times is not None and len(good) != times:
        raise AssertionError(
            f"{what} was confirmed {len(good)} time(s), expected {times}; {_describe(spans)}"
        )
    return good


def assert_not_confirmed(
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str,
    *,
    key: str | None = None,
    job_id: str | None = None,
) -> None:
    """Assert no successful confirmation of ``effect`` (for the key / job) was recorded."""
    spans = _spans(source)
    good = [s for s in confirmations(spans, effect, key=key, job_id=job_id) if _ok(s)]
    if good:
        raise AssertionError(f"{effect!r} was confirmed {len(good)} time(s); {_describe(spans)}")


def assert_skipped(
    source: SpanRecorder | Iterable[ReadableSpan],
    effect: str,
    *,
    key: str | None = None,
    job_id: str | None = None,
    times: int | None = None,
) -> list[ReadableSpan]:
    """Assert ``effect`` was skipped as already done (exactly ``times`` times, when given)."""
    found = skips(source, effect, key=key, job_id=job_id)
    what = f"{effect!r}" + (f" key={key!r}" if key is not None else "")
    what += f" job_id={job_id!r}" if job_id is not None else ""
    if not found or (times is not None and len(found) != times):
        expected = "at least once" if times is None else f"{times} time(s)"
        raise AssertionError(f"{what} was skipped {len(found)} time(s), expected {expected}")
    return found
