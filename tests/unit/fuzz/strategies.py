"""Hypothesis strategies shared by the fuzz tests: mutations of valid documents, random YAML
and JSON values, raw bytes, and how many examples to run.

``AUDITOR_FUZZ_EXAMPLES`` sets the number of examples per test (default: a modest number that
keeps the unit suite fast; ``python -m bench --fuzz`` runs a long campaign). With the default
the runs are derandomized, so CI sees the same examples every time; any other number draws
fresh ones.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

DEFAULT_EXAMPLES = 60
EXAMPLES = int(os.environ.get("AUDITOR_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES == DEFAULT_EXAMPLES,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Strings that mean something to the loaders: durations, globs, ids, env references, YAML-ish.
_MEANINGFUL = st.sampled_from(
    [
        "",
        " ",
        "5m",
        "0s",
        "-1s",
        "1e9d",
        "15m",
        "*",
        "tasks.*",
        "[",
        "job.id",
        "email.sent",
        "celery",
        "trace",
        "key",
        "link",
        "ok",
        "error",
        "unset",
        "client",
        "high",
        "critical",
        "${HOME}",
        "${UNSET_FUZZ_VAR}",
        "$",
        "\x00",
        "é",
        "a" * 300,
        "1 = 1",
        "select 1",
        "SpanAttributes->>'x'",
        "read_csv('/etc/passwd')",
        "NaN",
        "null",
        "true",
        "0x10",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    _MEANINGFUL,
)
YAML_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), _MEANINGFUL), children, max_size=4),
    ),
    max_leaves=12,
)
# JSON has no NaN in strict form, but Python's json accepts and emits it: keep it.
JSON_VALUES = YAML_VALUES


def _slots(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of ``doc`` (the root is ``()``)."""
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _slots(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _slots(value, (*path, index))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@st.composite
def mutated(draw: st.DrawFn, original: Any, values: st.SearchStrategy[Any] = YAML_VALUES) -> Any:
    """``original`` with one to four changes: a node replaced by a value of any type, a key
    removed, an unknown key or a list item added. Mostly valid-looking, wrong in one place."""
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_slots(doc)))
        operation = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            if operation == "replace":
                doc = draw(values)
            continue
        parent = _parent(doc, path)
        key = path[-1]
        if operation == "replace":
            parent[key] = draw(values)
        elif operation == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=12), _MEANINGFUL))] = draw(values)
        else:
            parent.insert(draw(st.integers(0, len(parent))), draw(values))
    return doc


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with bytes flipped, inserted, deleted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        operation = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if operation == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif operation == "truncate":
            del data[at:]
        else:  # a copy of another stretch of the message: plausible fields in odd places
            start = draw(st.integers(0, max(0, len(data) - 1)))
            data[at:at] = data[start : start + draw(st.integers(1, 64))]
    return bytes(data)
