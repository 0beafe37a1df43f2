"""YAML with locations: plain values, the file:line:col of every node, and located problems.

Owns the boundary between a user's YAML file (rule files now; ``audit.yaml`` and system
profiles later) and the typed code behind it. ``load_located(text, filename)`` returns a
``Located``: the document as plain Python values (dict / list / str / int / float / bool /
None) and a table from each node's *path* (a tuple of mapping keys and list indices) to the
1-based position of its key and of its value. ``validate(located, schema, vocabulary)`` checks
that document against a JSON Schema (Draft 2020-12) and turns every schema error into a
``Problem`` whose text is written in the file author's words, not the validator's.

Contract:

- Pure: text in, values and problems out. No file I/O here (callers read the file), and no
  exception escapes for anything a user can write: YAML syntax errors, duplicate keys,
  unknown tags and recursive aliases all come back as problems in ``Located.problems``.
- Every problem carries a real position. When the node a problem is about does not exist
  (a missing key), the position is that of the nearest enclosing node that does; a line is
  never invented.
- Mapping keys are always strings, exactly as written: ``on:`` is the key ``"on"``, ``200:``
  is ``"200"`` (YAML 1.1 would make them ``True`` and ``200``, which no author means).
  Values keep YAML's usual types, except that timestamps and binary stay the text written.
- A duplicate key is a problem at the second occurrence; the first value is kept.
- Parsing uses libyaml when PyYAML has it (same nodes and marks, faster); a syntax error is
  always worded by the pure-Python parser, so messages do not depend on the machine.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

Path = tuple[str | int, ...]

_TEXT_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
# Same nodes, marks and tags as SafeLoader (checked by the tests), built by libyaml when present.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    col: int


@dataclass(frozen=True)
class NodeLocation:
    """Where a node is written: its value, and the key naming it when it is a mapping entry."""

    value: Position
    key: Position | None = None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at a position; ``str()`` is ``file:line:col: message``.

    ``line == 0`` means the problem concerns the file as a whole (it cannot be read); then the
    text is ``file: message``.
    """

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (self.line, self.col, self.message)


@dataclass(frozen=True)
class Located:
    """A YAML document as plain values, with the position of every node and load problems.

    ``parsed`` is False when the text is not YAML at all (a syntax error); then ``value`` is
    None and ``problems`` says why. Problems found while building values (duplicate keys,
    unknown tags) leave ``parsed`` True: the rest of the document is still usable.
    """

    value: Any
    filename: str
    locations: Mapping[Path, NodeLocation]
    problems: tuple[Problem, ...] = ()
    parsed: bool = True

    def location(self, path: Sequence[str | int]) -> NodeLocation | None:
        """The recorded location of exactly this path, or None when no such node exists."""
        return self.locations.get(tuple(path))

    def position(self, path: Sequence[str | int], *, key: bool = False) -> Position:
        """The position of the node at ``path`` — of its key when ``key`` and it has one.

        Falls back to the nearest enclosing node that exists, and to 1:1 for an empty file.
        """
        path = tuple(path)
        for end in range(len(path), -1, -1):
            loc = self.locations.get(path[:end])
            if loc is not None:
                if key and end == len(path) and loc.key is not None:
                    return loc.key
                return loc.value
        return Position(1, 1)

    def problem(self, path: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        """A problem located at the node at ``path`` (see ``position``)."""
        pos = self.position(path, key=key)
        return Problem(self.filename, pos.line, pos.col, message)

    def get(self, path: Sequence[str | int], default: Any = None) -> Any:
        """The value at ``path``, or ``default`` when a step does not exist."""
        value = self.value
        for step in path:
            if isinstance(value, dict) and isinstance(step, str):
                if step not in value:
                    return default
                value = value[step]
            elif isinstance(value, list) and isinstance(step, int):
                if not 0 <= step < len(value):
                    return default
                value = value[step]
            else:
                return default
        return value


def _pos(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _yaml_error_problem(error: yaml.YAMLError, text: str, filename: str) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        pos = _pos(mark) if mark is not None else Position(1, 1)
        message = error.problem or error.context or "invalid YAML"
        if isinstance(error, yaml.composer.ComposerError) and "another document" in message:
            return Problem(
                filename, pos.line, pos.col, "invalid YAML: a second document ('---') in one file"
            )
        if error.context and error.problem:
            where = ""
            if error.context_mark is not None and error.context_mark != error.problem_mark:
                ctx = _pos(error.context_mark)
                where = f" started at {ctx.line}:{ctx.col}"
            message = f"{message} ({error.context}{where})"
        return Problem(filename, pos.line, pos.col, f"invalid YAML: {message}")
    if isinstance(error, yaml.reader.ReaderError):
        before = text[: error.position]
        line = before.count("\n") + 1
        col = error.position - (before.rfind("\n") + 1) + 1
        code = error.character if isinstance(error.character, int) else 0
        return Problem(filename, line, col, f"invalid YAML: character U+{code:04X} is not allowed")
    return Problem(filename, 1, 1, f"invalid YAML: {error}")


class _Builder:
    """Walks a composed node graph into plain values, recording locations and problems."""

    def __init__(self, loader: Any, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.locations: dict[Path, NodeLocation] = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()

    def _problem(self, mark: Any, message: str) -> None:
        pos = _pos(mark)
        self.problems.append(Problem(self.filename, pos.line, pos.col, message))

    def build(self, node: yaml.Node, path: Path, key: Position | None) -> Any:
        self.locations[path] = NodeLocation(_pos(node.start_mark), key)
        if id(node) in self._active:
            self._problem(node.start_mark, "an alias refers to a node that contains it")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
                self._check_collection_tag(node)
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i), None) for i, item in enumerate(node.value)]
            return self._scalar(node)
        finally:
            self._active.discard(id(node))

    def _check_collection_tag(self, node: yaml.Node) -> None:
        if node.tag not in _COLLECTION_TAGS:
            self._problem(node.start_mark, f"unknown tag '{node.tag}'")

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in _TEXT_TAGS:
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            unknown = "could not determine a constructor" in str(error.problem)
            self._problem(
                node.start_mark, f"unknown tag '{node.tag}'" if unknown else str(error.problem)
            )
            return node.value

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Position] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node.start_mark, "a mapping key must be a plain name")
                continue
            name = str(key_node.value)
            key_pos = _pos(key_node.start_mark)
            if name in first_seen:
                first = first_seen[name]
                self._problem(
                    key_node.start_mark,
                    f"duplicate key '{name}' (first defined at {first.line}:{first.col})",
                )
                continue
            first_seen[name] = key_pos
            result[name] = self.build(value_node, (*path, name), key_pos)
        # YAML merge keys (`<<: *defaults`): keys written in this mapping win.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self._problem(source.start_mark, "'<<' must refer to a mapping")
                    continue
                for key_node, value_node in source.value:
                    if not isinstance(key_node, yaml.ScalarNode):
                        continue
                    name = str(key_node.value)
                    if name not in result:
                        result[name] = self.build(
                            value_node, (*path, name), _pos(key_node.start_mark)
                        )
        return result


def _compose(loader_class: type[yaml.SafeLoader], text: str) -> tuple[Any, yaml.Node | None]:
    """A loader and the single document's node graph; raises YAMLError on a syntax error."""
    loader = loader_class(text)  # the reader rejects control characters right here
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def load_located(text: str, filename: str) -> Located:
    """Parse one YAML document; never raises for anything written in ``text``."""
    try:
        loader, node = _compose(_FAST_LOADER, text)
    except yaml.YAMLError:
        # libyaml is ~4x faster but words errors differently per version; the pure-Python
        # parser gives the same sentence everywhere, so it alone reports syntax errors.
        try:
            loader, node = _compose(yaml.SafeLoader, text)
        except yaml.YAMLError as error:
            problem = _yaml_error_problem(error, text, filename)
            return Located(None, filename, MappingProxyType({}), (problem,), parsed=False)
    try:
        if node is None:  # an empty file, or only comments
            return Located(None, filename, MappingProxyType({}), ())
        builder = _Builder(loader, filename)
        value = builder.build(node, (), None)
        problems = tuple(sorted(builder.problems, key=lambda p: p.sort_key))
        return Located(value, filename, MappingProxyType(builder.locations), problems)
    finally:
        loader.dispose()


# --- JSON Schema validation, in the author's words ---------------------------------------------


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


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems of one file in reading order, each distinct problem once."""
    return sorted(set(problems), key=lambda p: p.sort_key)
