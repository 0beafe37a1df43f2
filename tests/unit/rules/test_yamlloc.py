"""The location-preserving YAML loader and schema validation in the author's words."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from auditor.yamlloc import Position, Problem, load_located, located, validate

TEXT = """\
store: ./auditor.duckdb
rules: [./rules, ./more]
receivers:
  host: 127.0.0.1
  http_port: 4318
  on: yes
  200: 1.50
  when: 2024-01-01
  empty:
"""


def test_values_are_plain_python_and_keys_are_strings_as_written() -> None:
    doc = load_located(TEXT, "audit.yaml")

    assert doc.problems == ()
    assert doc.value == {
        "store": "./auditor.duckdb",
        "rules": ["./rules", "./more"],
        "receivers": {
            "host": "127.0.0.1",
            "http_port": 4318,
            "on": True,
            "200": 1.5,
            "when": "2024-01-01",
            "empty": None,
        },
    }


def test_every_node_has_the_position_of_its_key_and_of_its_value() -> None:
    doc = load_located(TEXT, "audit.yaml")

    assert doc.position(("receivers", "http_port")) == Position(5, 14)
    assert doc.position(("receivers", "http_port"), key=True) == Position(5, 3)
    assert doc.position(("rules", 1)) == Position(2, 18)
    assert doc.position(("rules", 1), key=True) == Position(2, 18)  # list items have no key
    assert doc.position(()) == Position(1, 1)


def test_a_missing_node_is_located_at_the_nearest_node_that_exists() -> None:
    doc = load_located(TEXT, "audit.yaml")

    assert doc.position(("receivers", "grpc_port")) == Position(4, 3)
    assert doc.position(("nope", "deeper", 3)) == Position(1, 1)
    assert str(doc.problem(("receivers", "grpc_port"), "missing")) == "audit.yaml:4:3: missing"
    assert doc.get(("receivers", "http_port")) == 4318
    assert doc.get(("receivers", "nope"), "default") == "default"
    assert doc.get(("rules", 7)) is None


def test_an_empty_file_is_an_empty_document_located_at_its_start() -> None:
    doc = load_located("# only a comment\n", "e.yaml")

    assert (doc.value, doc.problems, doc.parsed) == (None, (), True)
    assert doc.position(("anything",)) == Position(1, 1)


def test_a_duplicate_key_is_a_problem_at_its_second_occurrence_and_the_first_value_wins() -> None:
    doc = load_located("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n", "d.yaml")

    assert doc.value == {"a": 1, "b": {"c": 2}}
    assert [str(p) for p in doc.problems] == [
        "d.yaml:4:3: duplicate key 'c' (first defined at 3:3)",
        "d.yaml:5:1: duplicate key 'a' (first defined at 1:1)",
    ]


def test_a_syntax_error_is_one_problem_at_its_mark_and_nothing_is_parsed() -> None:
    doc = load_located("a: [1, 2\nb: 3\n", "s.yaml")

    assert doc.parsed is False
    assert doc.value is None
    assert [str(p) for p in doc.problems] == [
        "s.yaml:2:2: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence started at 1:4)"
    ]


def test_a_forbidden_character_is_located_by_line_and_column() -> None:
    doc = load_located("a: 1\nb: x\x07y\n", "c.yaml")

    assert [str(p) for p in doc.problems] == [
        "c.yaml:2:5: invalid YAML: character U+0007 is not allowed"
    ]


def test_unknown_tags_are_problems_and_the_rest_still_loads() -> None:
    doc = load_located("a: !secret x\nb: !list [1]\nc: 3\n", "t.yaml")

    assert doc.parsed is True
    assert doc.value == {"a": "x", "b": [1], "c": 3}
    assert [str(p) for p in doc.problems] == [
        "t.yaml:1:4: unknown tag '!secret'",
        "t.yaml:2:4: unknown tag '!list'",
    ]


def test_merge_keys_copy_entries_that_the_mapping_does_not_write_itself() -> None:
    doc = load_located("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "m.yaml")

    assert doc.problems == ()
    assert doc.value["use"] == {"x": 1, "y": 3}
    assert doc.position(("use", "x")) == Position(1, 14)  # where the merged value is written


def test_an_alias_that_contains_itself_is_a_problem_not_a_hang() -> None:
    doc = load_located("a: &x [1, *x]\n", "r.yaml")

    assert doc.value == {"a": [1, None]}
    assert [str(p) for p in doc.problems] == [
        "r.yaml:1:4: an alias refers to a node that contains it"
    ]


def test_a_problem_without_a_position_reads_file_colon_message() -> None:
    assert str(Problem("x.yaml", 0, 0, "cannot read")) == "x.yaml: cannot read"
    assert str(Problem("x.yaml", 3, 7, "bad")) == "x.yaml:3:7: bad"


SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["store", "receivers"],
    "properties": {
        "store": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "string"}},
        "mode": {"enum": ["scan", "serve"]},
        "name": {"type": "string", "pattern": "^[a-z]+$"},
        "interval": {"type": ["string", "number"], "x-expected": "a duration like 10s"},
        "receivers": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"host": {"type": "string"}, "http_port": {"type": "integer"}},
        },
    },
}


def messages(text: str) -> list[str]:
    return [str(p) for p in validate(load_located(text, "c.yaml"), SCHEMA)]


def test_schema_errors_become_sentences_sorted_by_position() -> None:
    text = (
        "mode: sever\n"
        "name: Bad Name\n"
        "receivers:\n"
        "  hots: 127.0.0.1\n"
        "  http_port: '4318'\n"
        "rules: ./rules\n"
        "interval: [10s]\n"
    )

    assert messages(text) == [
        "c.yaml:1:1: the top level is missing 'store'",
        "c.yaml:1:7: mode must be one of scan, serve, not 'sever' (did you mean 'serve'?)",
        "c.yaml:2:7: name 'Bad Name' must match [a-z]+",
        "c.yaml:4:3: unknown key 'hots' in receivers (did you mean 'host'?)",
        "c.yaml:5:14: receivers.http_port must be a whole number, not '4318'",
        "c.yaml:6:8: rules must be a list, not './rules'",
        "c.yaml:7:11: interval must be a duration like 10s, not a list",
    ]


def test_a_misspelled_required_key_is_reported_once_as_a_misspelling() -> None:
    assert messages("stor: x\nreceivers: {}\n") == [
        "c.yaml:1:1: unknown key 'stor' in the top level (did you mean 'store'?)"
    ]


def test_an_unknown_key_with_nothing_close_gets_no_suggestion() -> None:
    assert messages("store: x\nreceivers: {zzz: 1}\n") == [
        "c.yaml:2:13: unknown key 'zzz' in receivers"
    ]


def test_a_document_that_did_not_parse_is_not_validated() -> None:
    assert messages("store: [\n") == []


def test_libyaml_and_the_pure_python_parser_give_the_same_values_and_positions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = TEXT + "tags: [日本, 'é', {k: &a v, l: *a}]\nmerged:\n  <<: {m: 1}\n  n: !!str 2\n"
    fast = load_located(text, "f.yaml")
    monkeypatch.setattr(located, "_FAST_LOADER", yaml.SafeLoader)
    pure = load_located(text, "f.yaml")

    assert (fast.value, dict(fast.locations), fast.problems) == (
        pure.value,
        dict(pure.locations),
        pure.problems,
    )
