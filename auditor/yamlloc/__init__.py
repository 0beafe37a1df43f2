"""YAML files in their authors' terms: every value with its file:line:col, and every problem
(bad YAML, a duplicate key, a schema violation) as a sentence at the node it concerns.

Two parts, both pure (text in, values and problems out; no file I/O):

- ``located``: ``load_located(text, filename)`` → a ``Located`` document (plain values and
  the position of every node), duplicate keys and YAML errors as ``Problem`` s.
- ``messages``: ``validate(located, schema, vocabulary)`` → the JSON Schema errors of a
  document as ``Problem`` s worded for the author, with "did you mean" suggestions.

Callers import from ``auditor.yamlloc``; the names below are its interface.
"""

from __future__ import annotations

from auditor.yamlloc.located import (
    Located,
    NodeLocation,
    Path,
    Position,
    Problem,
    load_located,
    sorted_problems,
)
from auditor.yamlloc.messages import (
    DEFAULT_VOCABULARY,
    Vocabulary,
    describe_value,
    did_you_mean,
    validate,
)

__all__ = [
    "DEFAULT_VOCABULARY",
    "Located",
    "NodeLocation",
    "Path",
    "Position",
    "Problem",
    "Vocabulary",
    "describe_value",
    "did_you_mean",
    "load_located",
    "sorted_problems",
    "validate",
]
