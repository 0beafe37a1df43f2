"""JSON Schema errors as sentences in the file author's words, at the node they concern.

Owns ``validate(located, schema, vocabulary)``: it checks a ``Located`` document against a
JSON Schema (Draft 2020-12) and turns every error into a ``Problem`` such as "severity must be
one of info, low, medium, high, critical, not 'hgih' (did you mean 'high'?)" or "unknown key
'expct' in rule 'notify' (did you mean 'expect'?)". A ``Vocabulary`` says how a kind of file
names its fields and mappings; ``describe_value`` and ``did_you_mean`` word values and
suggestions the same way for checks the schema cannot make. Called through
``auditor.yamlloc`` by the loaders of rule files (system profiles included) and ``audit.yaml``.

Contract: pure, and one sentence per mistake: an error that another already explains (a type
error's other keywords, a missing key next to its misspelling) is left out, and identical
problems are merged. Must never parse YAML or invent a position: positions come from the
``Located`` document.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from auditor.yamlloc.located import Located, Path, Problem, sorted_problems


@dataclass(frozen=True)
class Vocabulary:
    """How a kind of file names its parts in messages.

    ``label(path)`` names a field (``severity``, ``expect.span.kind``); ``subject(path)`` names
    the mapping a key belongs to (``rule 'notify'``, ``the top level``). Both receive the
    document so that they can use an entry's own name (a rule's id).
    """

    label: Callable[[Path, Any], str]
    subject: Callable[[Path, Any], str]


def _default_label(path: Path, document: Any) -> str:
    if not path:
        return "the document"
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _default_subject(path: Path, document: Any) -> str:
    return "the top level" if not path else _default_label(path, document)


DEFAULT_VOCABULARY = Vocabulary(label=_default_label, subject=_default_subject)

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


def describe_value(value: Any) -> str:
    """A value as shown after "not" in a message: ``'urgent'``, ``5``, ``true``, ``a list``."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _join_or(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or "" when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _conforms(instance: Any, types: Any) -> bool:
    if types is None:
        return True
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER
    return any(checker.is_type(instance, t) for t in ([types] if isinstance(types, str) else types))


def _unknown_key_suggestions(instance: Any, schema: Mapping[str, Any]) -> set[str]:
    """Declared keys that an unknown key of ``instance`` is a likely misspelling of."""
    if not isinstance(instance, dict) or schema.get("additionalProperties") is not False:
        return set()
    choices = [k for k in _declared_keys(schema) if k not in instance]
    found = set()
    for name in instance:
        if not _is_declared(name, schema):
            found.update(difflib.get_close_matches(name, choices, n=1, cutoff=0.6))
    return found


def _misspelled(error: jsonschema.ValidationError, schema: Mapping[str, Any]) -> bool:
    """Whether a missing-key error is explained by a misspelled key next to it."""
    if error.validator == "required":
        missing = set(error.validator_value)
    elif error.validator in ("anyOf", "oneOf"):  # alternatives of required keys
        missing = {k for branch in error.validator_value for k in branch.get("required", [])}
    else:
        return False
    return bool(missing & _unknown_key_suggestions(error.instance, schema))


def _declared_keys(schema: Mapping[str, Any]) -> list[str]:
    return list(schema.get("properties", {}))


def _is_declared(name: str, schema: Mapping[str, Any]) -> bool:
    if name in schema.get("properties", {}):
        return True
    return any(re.search(p, name) for p in schema.get("patternProperties", {}))


@dataclass
class _Translator:
    located: Located
    vocabulary: Vocabulary
    problems: list[Problem] = field(default_factory=list)

    def label(self, path: Path) -> str:
        return self.vocabulary.label(path, self.located.value)

    def subject(self, path: Path) -> str:
        return self.vocabulary.subject(path, self.located.value)

    def add(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.append(self.located.problem(path, message, key=key))

    def custom(self, error: jsonschema.ValidationError, path: Path) -> str | None:
        """A message template from the schema (``x-messages`` for a keyword, or ``x-expected``)."""
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        templates = schema.get("x-messages", {})
        if error.validator in templates and error.validator != "dependentRequired":
            return str(templates[error.validator]).format(
                label=self.label(path),
                subject=self.subject(path),
                value=describe_value(error.instance),
            )
        expected = schema.get("x-expected")
        if expected and error.validator in {
            "type",
            "pattern",
            "minimum",
            "exclusiveMinimum",
            "maximum",
            "enum",
            "const",
            "format",
            "minLength",
        }:
            return f"{self.label(path)} must be {expected}, not {describe_value(error.instance)}"
        return None

    def translate(self, error: jsonschema.ValidationError) -> None:
        path: Path = tuple(error.absolute_path)
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        instance = error.instance
        validator = error.validator
        if validator != "type" and not _conforms(instance, schema.get("type")):
            return  # the type error says it all; the other keywords would only echo it
        if _misspelled(error, schema):
            return  # "unknown key 'expct' (did you mean 'expect'?)" already says it
        custom = self.custom(error, path)
        if (
            validator == "additionalProperties"
            and error.validator_value is False
            and isinstance(instance, dict)
        ):
            choices = [k for k in _declared_keys(schema) if k not in instance]
            for name in instance:
                if not _is_declared(name, schema):
                    hint = did_you_mean(name, choices)
                    message = f"unknown key '{name}' in {self.subject(path)}{hint}"
                    self.add((*path, name), message, key=True)
            return
        if custom is not None:
            self.add(path, custom)
            return
        label = self.label(path)
        value = describe_value(instance)
        if validator == "required" and isinstance(instance, dict):
            for name in error.validator_value:
                if name not in instance:
                    self.add(path, f"{self.subject(path)} is missing '{name}'")
        elif validator == "dependentRequired" and isinstance(instance, dict):
            template = schema.get("x-messages", {}).get(
                "dependentRequired", "{subject} has '{key}' but no '{missing}'"
            )
            for name, needs in error.validator_value.items():
                for need in needs if name in instance else ():
                    if need not in instance:
                        message = template.format(
                            subject=self.subject(path), label=label, key=name, missing=need
                        )
                        self.add((*path, name), message, key=True)
        elif validator in ("enum", "type") and "enum" in schema:
            options = [str(o).lower() if isinstance(o, bool) else str(o) for o in schema["enum"]]
            hint = did_you_mean(instance, options) if isinstance(instance, str) else ""
            self.add(path, f"{label} must be one of {', '.join(options)}, not {value}{hint}")
        elif validator == "const":
            self.add(path, f"{label} must be {describe_value(error.validator_value)}, not {value}")
        elif validator == "type":
            types = error.validator_value
            types = [types] if isinstance(types, str) else list(types)
            if "integer" in types and "number" in types:
                types.remove("integer")
            names = [_TYPE_NAMES.get(t, t) for t in types]
            if len(names) > 1:  # "a string, a number or a boolean", not "... or true or false"
                names = [
                    "a boolean" if t == "boolean" else n for t, n in zip(types, names, strict=True)
                ]
            self.add(path, f"{label} must be {_join_or(names)}, not {value}")
        elif validator == "pattern":
            pattern = str(error.validator_value).removeprefix("^").removesuffix("$")
            self.add(path, f"{label} {value} must match {pattern}")
        elif validator in ("minimum", "exclusiveMinimum"):
            word = "at least" if validator == "minimum" else "more than"
            self.add(path, f"{label} must be {word} {error.validator_value}, not {value}")
        elif validator in ("maximum", "exclusiveMaximum"):
            word = "at most" if validator == "maximum" else "less than"
            self.add(path, f"{label} must be {word} {error.validator_value}, not {value}")
        elif validator in ("minLength", "minItems", "minProperties") and not instance:
            self.add(path, f"{label} must not be empty")
        elif validator == "uniqueItems" and isinstance(instance, list):
            seen: list[Any] = []
            for i, item in enumerate(instance):
                if item in seen:
                    self.add((*path, i), f"{label} lists {describe_value(item)} twice")
                seen.append(item)
        else:  # a keyword without a dedicated sentence: the validator's own words
            self.add(path, f"{label}: {error.message}")


def validate(
    located: Located,
    schema: Mapping[str, Any],
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
) -> list[Problem]:
    """Every way ``located.value`` breaks ``schema`` (Draft 2020-12), as located problems.

    Sorted by position, identical problems merged. A document that did not parse is not
    validated (its syntax problem is already in ``located.problems``).

    Schema extensions understood here (other tools ignore them): ``x-expected`` on a
    subschema ("a duration like 90s, 5m or 2h") turns type / pattern / range errors into
    "<label> must be <x-expected>, not <value>"; ``x-messages`` maps a keyword to a template
    with ``{label}``, ``{subject}`` and ``{value}`` for errors that keyword raises.
    """
    if not located.parsed:
        return []
    validator = jsonschema.Draft202012Validator(schema)
    translator = _Translator(located, vocabulary)
    for error in validator.iter_errors(located.value):
        translator.translate(error)
    return sorted_problems(translator.problems)
