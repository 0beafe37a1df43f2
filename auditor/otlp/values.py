"""OTLP ``AnyValue`` → JSON, the one place that decides how attribute values are stored.

Attribute maps are stored as JSON object text (the ClickHouse exporter's JSON variant), with
each value in its natural JSON type, so every OTLP type keeps its meaning:

=========  =====================================  ==========================
OTLP       JSON value                             ``->>`` (string) reads as
=========  =====================================  ==========================
string     string                                 as is
bool       ``true`` / ``false``                   ``true`` / ``false``
int        number                                 decimal (``8025``)
double     number; NaN / ±Infinity as strings     ``1.5``, ``NaN``
bytes      standard base64 string                 base64 (the exporter's form)
array      array of these values                  JSON text
kvlist     object of these values                 JSON text
empty      ``null``                               NULL
=========  =====================================  ==========================

Reading a value as a string (what rules do) gives the same text as the Collector's
string-valued Map variant for strings, ints, bools and bytes; doubles read in JSON's
spelling (``3.0`` where the Collector writes ``3``), so compare doubles as numbers.
Both decoders (protobuf and OTLP/JSON) go through this module, so
the two wire formats store identical rows. Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
import math
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue


class InvalidValue(ValueError):
    """An attribute value that is not valid OTLP."""


def _json_native(kind: str | None, value: Any) -> Any:
    """A decoded value as a JSON-serializable Python value."""
    if kind == "double" and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value


def json_member_value(kind: str | None, value: Any) -> str:
    """The JSON text of one attribute value (``kind`` is the AnyValue case, e.g. ``int``)."""
    if kind == "string":
        return _quote(value)
    return json.dumps(_json_native(kind, value), separators=(",", ":"))


# ---------------------------------------------------------------------------- protobuf


def native_pb(value: AnyValue) -> tuple[str | None, Any]:
    """(kind, JSON-native Python value) of a protobuf AnyValue."""
    case = value.WhichOneof("value")
    if case is None:
        return None, None
    kind = case[:-6]  # strip "_value"
    if kind == "array":
        return kind, [_json_native(*native_pb(v)) for v in value.array_value.values]
    if kind == "kvlist":
        return kind, {
            kv.key: _json_native(*native_pb(kv.value)) for kv in value.kvlist_value.values
        }
    return kind, getattr(value, case)


# ---------------------------------------------------------------------------- OTLP/JSON

_JSON_CASES = {
    "stringValue": "string",
    "boolValue": "bool",
    "intValue": "int",
    "doubleValue": "double",
    "bytesValue": "bytes",
    "arrayValue": "array",
    "kvlistValue": "kvlist",
}
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# Nesting of array / kvlist values beyond this is refused (the protobuf form cannot carry
# more than ~50: upb stops at 100 message levels, two per value level).
MAX_VALUE_DEPTH = 64


def native_json(value: Any, depth: int = 0) -> tuple[str | None, Any]:
    """(kind, JSON-native Python value) of an OTLP/JSON AnyValue object."""
    if depth > MAX_VALUE_DEPTH:
        raise InvalidValue(f"attribute value nests deeper than {MAX_VALUE_DEPTH} levels")
    if not isinstance(value, dict):
        raise InvalidValue('attribute value must be an object such as {"stringValue": "x"}')
    for key, raw in value.items():
        kind = _JSON_CASES.get(key)
        if kind is None:
            continue  # unknown fields are ignored, as the OTLP/JSON spec requires
        if kind == "string":
            if not isinstance(raw, str):
                raise InvalidValue("stringValue must be a string")
            return kind, raw
        if kind == "bool":
            if not isinstance(raw, bool):
                raise InvalidValue("boolValue must be true or false")
            return kind, raw
        if kind == "int":
            return kind, parse_int64(raw, "intValue")
        if kind == "double":
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise InvalidValue("doubleValue must be a number")
            if isinstance(raw, str):
                if raw in _SPECIAL_DOUBLES:
                    return kind, _SPECIAL_DOUBLES[raw]
                try:
                    return kind, float(raw)
                except ValueError:
                    raise InvalidValue(f"doubleValue {raw!r} is not a number") from None
            return kind, float(raw)
        if kind == "bytes":
            if not isinstance(raw, str):
                raise InvalidValue("bytesValue must be a base64 string")
            try:
                return kind, base64.b64decode(raw, validate=False)
            except ValueError:
                raise InvalidValue("bytesValue is not valid base64") from None
        if kind == "array":
            values = (raw or {}).get("values", []) if isinstance(raw, dict) else None
            if not isinstance(values, list):
                raise InvalidValue("arrayValue.values must be a list")
            return kind, [_json_native(*native_json(v, depth + 1)) for v in values]
        if kind == "kvlist":
            values = (raw or {}).get("values", []) if isinstance(raw, dict) else None
            if not isinstance(values, list):
                raise InvalidValue("kvlistValue.values must be a list")
            out = {}
            for kv in values:
                if not isinstance(kv, dict) or not isinstance(kv.get("key", ""), str):
                    raise InvalidValue("kvlistValue entries must be {key, value} objects")
                out[kv.get("key", "")] = _json_native(*native_json(kv.get("value", {}), depth + 1))
            return kind, out
    return None, None


def parse_int64(raw: Any, what: str, *, unsigned: bool = False) -> int:
    """An OTLP/JSON 64-bit integer: a decimal string or a JSON number."""
    if isinstance(raw, bool):
        raise InvalidValue(f"{what} must be an integer")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw, 10)
        except ValueError:
            raise InvalidValue(f"{what} {raw!r} is not an integer") from None
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        raise InvalidValue(f"{what} must be an integer")
    low, high = (0, 2**64 - 1) if unsigned else (-(2**63), 2**63 - 1)
    if not low <= value <= high:
        raise InvalidValue(f"{what} {value} is out of range")
    return value
