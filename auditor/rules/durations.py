"""Durations as rule authors write them: ``90s``, ``5m``, ``2h``, ``1d``, ``500ms``, ``1h30m``.

Pure. ``parse_duration(value, what)`` returns seconds as a float or raises ``DurationError``
whose message names the field (``what``) and quotes what was written, ready to be located by
the caller. Plain numbers (YAML ``90`` or ``"90"``) are seconds. ``DURATION_PATTERN`` is the
same grammar for the JSON Schema, so an editor flags exactly what the loader rejects.

Units: ``ms``, ``s``, ``m``, ``h``, ``d``; each part may have a decimal fraction (``1.5h``);
parts are summed (``1h30m``). No spaces inside, no negative durations, no months or years
(their length varies; say ``30d``).
"""

from __future__ import annotations

import math
import re

from auditor.yamlloc import describe_value

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h|d)"
_NUMBER = r"\d+(?:\.\d+)?"

# For the JSON Schema (strings only; numbers are checked by "minimum": 0).
DURATION_PATTERN = rf"^(?:{_NUMBER}|(?:{_PART})+)$"
DURATION_EXPECTED = "a duration like 90s, 5m or 2h"

_WHOLE = re.compile(DURATION_PATTERN)
_PARTS = re.compile(_PART)


class DurationError(ValueError):
    """A value that is not a duration; the message is a complete sentence for the author."""


def parse_duration(value: object, what: str = "duration") -> float:
    """Seconds in ``value``; ``what`` names the field in the error ("within", "expect.tolerance")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
    elif isinstance(value, str):
        text = value
        if _WHOLE.match(text):
            if re.fullmatch(_NUMBER, text):
                return float(text)
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PARTS.findall(text))
    raise DurationError(f"{what} must be {DURATION_EXPECTED}, not {describe_value(value)}")


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` in this grammar (``5400.0`` → ``1h30m``)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)
