"""YAML with locations: plain values, the file:line:col of every node, and located problems.

Owns the boundary between a user's YAML file (rule files, system profiles, ``audit.yaml``)
and the typed code behind it. ``load_located(text, filename)`` returns a ``Located``: the
document as plain Python values (dict / list / str / int / float / bool / None) and a table
from each node's *path* (a tuple of mapping keys and list indices) to the 1-based position of
its key and of its value. ``Problem`` is one located thing wrong with a file, whoever finds
it (this loader, the schema messages, the rule and profile builders). Callers import these
from ``auditor.yamlloc``.

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
- Knows nothing of schemas: what a document must contain is ``messages``' business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

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


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems of one file in reading order, each distinct problem once."""
    return sorted(set(problems), key=lambda p: p.sort_key)
