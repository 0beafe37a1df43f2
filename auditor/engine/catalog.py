"""What an evaluation runs: system profiles and rules, built-in and the user's.

Built-in profiles (``rules/systems``) and packs (``rules/packs``) always load; ``--rules``
paths add to them (a user profile with a built-in's id replaces it). Everything goes through
one rule loader so that every problem, in any file, is reported as ``file:line:col: message``
in one pass (``RuleError``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from auditor.paths import packs_dir, systems_dir
from auditor.profiles.loader import build_profiles
from auditor.profiles.model import Profile
from auditor.profiles.schema import profile_schema
from auditor.rules.loader import load_rule_files
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


def load_catalog(rule_paths: Iterable[Path | str] = (), *, packs: bool = True) -> Catalog:
    builtin = [systems_dir()] + ([packs_dir()] if packs and packs_dir().is_dir() else [])
    user = [Path(p) for p in rule_paths]
    rule_set = load_rule_files([*builtin, *user], system_schema=profile_schema())
    builtin_files = frozenset(
        str(p) for d in builtin for p in sorted(d.rglob("*")) if p.suffix in (".yaml", ".yml")
    )
    return Catalog(build_profiles(rule_set.systems), rule_set, builtin_files)
