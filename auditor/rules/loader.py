"""Rule files and folders → one ``RuleSet``, or a ``RuleError`` listing every problem.

The I/O edge of the rule stage: reads the files named by ``--rules``, the config's ``rules:``
and the built-in packs, and hands their text to the pure ``auditor.rules.build``. Called by
the CLI (``scan``, ``serve``, ``rules …``) and by tests.

Contract:

- ``load_rule_files(paths)`` takes files and folders; a folder contributes every ``*.yaml`` /
  ``*.yml`` below it, recursively, in sorted order, except rule test files (below). Files
  are loaded in the order given; a file named twice (by path, or through a symlink) loads
  once, where it first appears.
- Rule test files (what ``audit rules test`` reads) live next to rules, so a folder skips
  them: files named ``*_test.yaml`` / ``*.test.yaml`` (or ``.yml``), and every file in a
  ``tests`` folder below the folder given. A rule test file named on its own is a problem
  that says to run it with ``audit rules test``.
- Every problem of every file is collected before anything is raised: one run shows them all,
  each as ``file:line:col: message``, files in load order, each file in reading order.
- Rule ids are unique across everything loaded: a repeat is a problem at the second id,
  naming where the first is.
- Nothing is returned unless everything loaded cleanly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from auditor.errors import RuleError
from auditor.rules.build import build_rule_file
from auditor.rules.model import Location, RuleFile, RuleSet
from auditor.yamlloc import Problem, load_located

RULE_FILE_SUFFIXES = (".yaml", ".yml")
TEST_FILE_ENDINGS = tuple(f"{sep}test{suffix}" for sep in "_." for suffix in RULE_FILE_SUFFIXES)
TESTS_FOLDER = "tests"


def is_rule_test_file(path: Path, folder: Path | None = None) -> bool:
    """Whether ``path`` is a rule test file by its name, or, when it was found in ``folder``,
    by a ``tests`` folder between the two."""
    if path.name.endswith(TEST_FILE_ENDINGS):
        return True
    return folder is not None and TESTS_FOLDER in path.relative_to(folder).parts[:-1]


def rule_file_paths(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """The files that ``paths`` name (folders expanded, their rule test files skipped), and
    problems for missing paths and for rule test files named on their own."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in RULE_FILE_SUFFIXES and p.is_file() and not is_rule_test_file(p, path)
            )
        elif path.is_file() and is_rule_test_file(path):
            message = "a rule test file, not a rule file: run it with `audit rules test`"
            problems.append(Problem(str(path), 0, 0, message))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 0, 0, "no such file or folder"))
    # A file named twice (a folder and a file in it) is loaded once, where it first appears.
    seen: set[Path] = set()
    unique = []
    for file in files:
        if file.resolve() not in seen:
            seen.add(file.resolve())
            unique.append(file)
    return unique, problems


def _read(path: Path) -> tuple[str | None, Problem | None]:
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, Problem(str(path), 0, 0, f"cannot read: {error.strerror or error}")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")  # valid up to the bad byte
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        return None, Problem(str(path), line, col, "not UTF-8 text")


def _build_set(
    sources: Iterable[tuple[str, str]], system_schema: Mapping[str, Any] | None
) -> tuple[RuleSet, list[Problem]]:
    files: list[RuleFile] = []
    problems: list[Problem] = []
    for filename, text in sources:
        rule_file, file_problems = build_rule_file(load_located(text, filename), system_schema)
        files.append(rule_file)
        problems += file_problems
    problems += _duplicate_ids(files)
    return RuleSet(tuple(files)), problems


def _duplicate_ids(files: list[RuleFile]) -> list[Problem]:
    """A rule id used again (in any file) is a problem at its second use.

    Read from the documents, not the built rules, so that a file with other problems still
    takes part.
    """
    first: dict[str, Location] = {}
    problems = []
    for rule_file in files:
        document = rule_file.document
        rules = document.get(("rules",)) if document is not None else None
        if document is None or not isinstance(rules, list):
            continue
        for i, raw in enumerate(rules):
            rule_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(rule_id, str):
                continue
            pos = document.position(("rules", i, "id"))
            if rule_id in first:
                message = f"rule id '{rule_id}' already defined at {first[rule_id]}"
                problems.append(Problem(document.filename, pos.line, pos.col, message))
            else:
                first[rule_id] = Location(document.filename, pos.line, pos.col)
    return problems


def _ordered(problems: list[Problem], filenames: list[str]) -> list[Problem]:
    order = {name: i for i, name in enumerate(filenames)}
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (order.get(p.file, -1), p.sort_key))


def load_rule_files(
    paths: Iterable[Path | str], *, system_schema: Mapping[str, Any] | None = None
) -> RuleSet:
    """Load rule files and folders; raise ``RuleError`` with every problem if there is any."""
    files, problems = rule_file_paths(Path(p) for p in paths)
    sources: list[tuple[str, str]] = []
    for path in files:
        text, problem = _read(path)
        if problem is not None:
            problems.append(problem)
        elif text is not None:
            sources.append((str(path), text))
    rule_set, build_problems = _build_set(sources, system_schema)
    problems += build_problems
    if problems:
        raise RuleError([str(p) for p in _ordered(problems, [str(f) for f in files])])
    return rule_set


def load_rule_text(
    text: str, filename: str = "<rules>", *, system_schema: Mapping[str, Any] | None = None
) -> RuleSet:
    """Load one rule file's text (tests, ``audit rules test`` fixtures, stdin)."""
    return load_rule_texts([(filename, text)], system_schema=system_schema)


def load_rule_texts(
    sources: Iterable[tuple[str, str]], *, system_schema: Mapping[str, Any] | None = None
) -> RuleSet:
    """Load several ``(filename, text)`` pairs as one set (ids unique across them)."""
    sources = list(sources)
    rule_set, problems = _build_set(sources, system_schema)
    if problems:
        raise RuleError([str(p) for p in _ordered(problems, [name for name, _ in sources])])
    return rule_set
