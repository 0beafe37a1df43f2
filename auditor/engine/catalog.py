"""What an evaluation runs: system profiles and rules, built-in and the user's.

Built-in profiles (``rules/systems``) and packs (``rules/packs``) always load (packs unless
``packs=False``); ``--rules`` paths add to them (a user profile with a built-in's id replaces
it). Everything goes through one rule loader so that every problem, in any file, is reported
as ``file:line:col: message`` in one pass (``RuleError``).

A built-in file named again among the user's paths (``--rules rules/`` in a checkout, which
holds the built-in folders) is the same file, loaded once as the built-in: not a second
definition of every id in it. "The same" is the same file once symlinks are resolved, or a
file with the same bytes as a loaded built-in file, which is how the checkout's ``rules/``
matches the copy an installed wheel carries (``auditor/_builtin_rules``, see ``paths.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from auditor.paths import packs_dir, systems_dir
from auditor.profiles.loader import build_profiles
from auditor.profiles.model import Profile
from auditor.profiles.schema import profile_schema
from auditor.rules.loader import load_rule_files, rule_file_paths
from auditor.rules.model import Rule, RuleSet


@dataclass(frozen=True)
class Catalog:
    profiles: tuple[Profile, ...]
    rules: RuleSet
    builtin_files: frozenset[str]  # rule files that ship with auditor (packs, systems)

    def is_builtin(self, rule: Rule) -> bool:
        return rule.location.file in self.builtin_files

    def enabled_rules(self) -> tuple[Rule, ...]:
        return self.rules.enabled()


class _Builtins:
    """The built-in files loaded, to recognize them among the user's paths."""

    def __init__(self, files: list[Path]) -> None:
        self.resolved = {f.resolve() for f in files}
        self.sizes = {f.stat().st_size for f in files}
        self._files = files
        self._contents: set[bytes] | None = None

    def includes(self, path: Path) -> bool:
        if path.resolve() in self.resolved:
            return True
        try:
            if path.stat().st_size not in self.sizes:  # most user files: no read needed
                return False
            if self._contents is None:
                self._contents = {f.read_bytes() for f in self._files}
            return path.read_bytes() in self._contents
        except OSError:
            return False  # the loader reports what cannot be read


def _user_files(paths: Iterable[Path], builtins: _Builtins) -> list[Path]:
    """``paths`` with folders expanded and the built-in files among them left out. Paths that
    are neither files nor folders are kept: the loader reports them."""
    kept: list[Path] = []
    for path in paths:
        if not path.is_dir():
            if not (path.is_file() and builtins.includes(path)):
                kept.append(path)
            continue
        files, _ = rule_file_paths([path])
        kept += [f for f in files if not builtins.includes(f)]
    return kept


def load_catalog(rule_paths: Iterable[Path | str] = (), *, packs: bool = True) -> Catalog:
    builtin_dirs = [systems_dir()] + ([packs_dir()] if packs and packs_dir().is_dir() else [])
    builtin, _ = rule_file_paths(builtin_dirs)
    user = _user_files((Path(p) for p in rule_paths), _Builtins(builtin))
    rule_set = load_rule_files([*builtin, *user], system_schema=profile_schema())
    return Catalog(build_profiles(rule_set.systems), rule_set, frozenset(str(p) for p in builtin))
