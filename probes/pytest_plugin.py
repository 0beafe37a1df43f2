"""pytest plugin: the ``probe_spans`` fixture, for asserting confirmations in your tests.

* ``probe_spans`` — a ``probes.testing.SpanRecorder`` on the global provider, cleared before
  each test: ``assert_confirmed(probe_spans, "email.sent", key="ORD-1")``.

Registered through the ``pytest11`` entry point of the ``auditor-probes`` distribution; not
imported by ``import probes``. The recorder needs the OpenTelemetry SDK (the ``testing``
extra), imported only when a test asks for the fixture. Writing the session's spans for
``audit scan`` (``--auditor-spans FILE``) is ``auditor``'s plugin (``auditor.pytest_plugin``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def probe_spans() -> Iterator[Any]:
    """The spans recorded during this test (a ``probes.testing.SpanRecorder``)."""
    from probes.testing import span_recorder

    recorder = span_recorder()
    recorder.clear()
    yield recorder
    recorder.clear()
