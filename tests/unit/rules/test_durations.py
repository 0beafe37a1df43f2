"""Durations as rule authors write them, and the same grammar in the JSON Schema."""

from __future__ import annotations

import re

import pytest

from auditor.rules.durations import (
    DURATION_PATTERN,
    DurationError,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("500ms", 0.5),
        ("2ms", 0.002),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("0s", 0.0),
        (90, 90.0),
        (0.25, 0.25),
        ("90", 90.0),
    ],
)
def test_a_duration_is_seconds(written: object, seconds: float) -> None:
    assert parse_duration(written) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("5 minutes", "'5 minutes'"),
        ("5 m", "'5 m'"),
        ("soon", "'soon'"),
        ("", "''"),
        ("-5m", "'-5m'"),
        ("5M", "'5M'"),
        ("1w", "'1w'"),
        ("h", "'h'"),
        (-1, "-1"),
        (True, "true"),
        (None, "empty"),
        ([5], "a list"),
        (float("inf"), "inf"),
    ],
)
def test_anything_else_is_an_error_that_names_the_field_and_quotes_the_value(
    written: object, shown: str
) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(written, "within")
    assert str(caught.value) == f"within must be a duration like 90s, 5m or 2h, not {shown}"


@pytest.mark.parametrize(
    "text", ["90s", "1h30m", "500ms", "90", "1.5h", "5 minutes", "-5m", "", "1w", "5M", " 5m"]
)
def test_the_schema_pattern_accepts_exactly_the_strings_the_parser_accepts(text: str) -> None:
    try:
        parse_duration(text)
        parses = True
    except DurationError:
        parses = False
    assert bool(re.match(DURATION_PATTERN, text)) is parses


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5400.0, "1h30m"), (0.002, "2ms"), (90.0, "1m30s"), (0.0, "0s"), (86400.0, "1d")],
)
def test_a_duration_is_formatted_back_in_the_shortest_exact_spelling(
    seconds: float, text: str
) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
