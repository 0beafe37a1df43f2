"""Fixtures for the probes unit tests: spans recorded in memory on the global SDK provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probes.testing import SpanRecorder, span_recorder


@pytest.fixture
def spans() -> Iterator[SpanRecorder]:
    recorder = span_recorder()
    recorder.clear()
    yield recorder
    recorder.clear()
