"""pytest plugin: ``--auditor-spans FILE`` writes a test session's spans for ``audit scan``.

Every span the test session ends (in this process, on the global SDK provider) is written to
FILE as OTLP JSON lines (the Collector file exporter's format) when the session finishes;
``audit scan FILE`` then judges the jobs the tests ran. Worker processes a test starts export
their own spans (OTLP to ``audit serve``).

Registered through the ``pytest11`` entry point of the ``auditor`` distribution. It lives
here rather than in ``probes`` because the encoding is ``auditor.otlp.encode``'s (the
``probe_spans`` fixture is ``probes.pytest_plugin``). The SDK and the encoders are imported
only when the option is given.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

#: Spans per OTLP JSON line.
BATCH = 512


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("auditor", "auditor")
    group.addoption(
        "--auditor-spans",
        metavar="FILE",
        default=None,
        help="write the spans of this test session to FILE (OTLP JSON lines) for 'audit scan'",
    )


def _collector() -> Any:
    """A span processor that keeps every ended span until the session finishes (the SDK is
    imported only when ``--auditor-spans`` is given)."""
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

    class Collector(SpanProcessor):
        def __init__(self) -> None:
            self.lock = threading.Lock()
            self.spans: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            with self.lock:
                self.spans.append(span)

    return Collector()


def write_spans(spans: list[Any], path: Path) -> int:
    """Write ``spans`` (SDK ReadableSpans) to ``path`` as OTLP JSON lines; return lines written."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from auditor.otlp.encode import request_to_json

    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, len(spans), BATCH):
            body = encode_spans(spans[start : start + BATCH]).SerializeToString()
            out.write(request_to_json(body) + "\n")
            lines += 1
    return lines


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("--auditor-spans", default=None)
    if not target:
        return
    from probes.testing import global_sdk_provider

    collector = _collector()
    global_sdk_provider().add_span_processor(collector)
    config.stash[_COLLECTOR] = (collector, Path(target))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = session.config.stash.get(_COLLECTOR, None)
    if found is None:
        return
    collector, path = found
    with collector.lock:
        spans = list(collector.spans)
    write_spans(spans, path)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    found = config.stash.get(_COLLECTOR, None)
    if found is not None:
        collector, path = found
        terminalreporter.write_line(
            f"auditor: {len(collector.spans)} span(s) written to {path} (audit scan {path})"
        )


_COLLECTOR = pytest.StashKey[tuple[Any, Path]]()
