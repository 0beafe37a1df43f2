"""The published JSON Schema of a rule file: valid, described, strict, and pluggable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from auditor.rules.schema import rule_file_schema

DATA = Path(__file__).resolve().parents[2] / "data" / "rules"


def object_schemas(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that declares ``properties``, with a readable pointer."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from object_schemas(value, f"{where}/{i}")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(rule_file_schema())


def test_every_key_of_the_rule_file_has_a_description_for_editors() -> None:
    undocumented = [
        f"{where}/properties/{name}"
        for where, schema in object_schemas(rule_file_schema())
        for name, prop in schema["properties"].items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_unknown_keys_are_errors_at_every_level() -> None:
    open_objects = [
        where
        for where, schema in object_schemas(rule_file_schema())
        if schema.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_the_rule_keys_are_the_design_core_plus_the_documented_extensions() -> None:
    rule = rule_file_schema()["$defs"]["rule"]["properties"]
    expect = rule["expect"]["properties"]

    core = ["id", "title", "severity", "jobs", "expect", "checks", "complete_within"]
    core += ["labels", "runbook"]
    extensions = ["description", "enabled"]
    assert sorted(rule) == sorted([*core, *extensions])
    assert sorted(expect) == sorted(
        ["effect", "span", "declared", "correlate", "key", "within", "tolerance"]
    )
    assert sorted(rule["jobs"]["properties"]) == sorted(
        ["system", "name", "queue", "attributes", "where"]
    )
    assert sorted(expect["span"]["properties"]) == sorted(
        ["name", "kind", "status", "attributes", "where"]
    )


@pytest.mark.parametrize("name", ["good_design_example.yaml", "good_span_selector.yaml"])
def test_an_editor_with_only_the_schema_accepts_the_good_files(name: str) -> None:
    document = yaml.safe_load((DATA / name).read_text())
    jsonschema.Draft202012Validator(rule_file_schema()).validate(document)


def test_a_profile_schema_plugs_into_systems_without_touching_the_default() -> None:
    profile = {"type": "object", "required": ["name"], "description": "A profile."}

    assert rule_file_schema(system_schema=profile)["$defs"]["system"] == profile
    assert rule_file_schema()["$defs"]["system"]["type"] == "object"
    assert "required" not in rule_file_schema()["$defs"]["system"]


def test_each_call_returns_a_fresh_copy() -> None:
    schema = rule_file_schema()
    schema["$defs"]["rule"]["properties"].clear()

    assert rule_file_schema()["$defs"]["rule"]["properties"]
