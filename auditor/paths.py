"""Where the built-in YAML (system profiles, rule packs, examples) lives.

In a wheel it is packaged as ``auditor/_builtin_rules``; in a source checkout (editable
install, tests) it is the repository's top-level ``rules/`` folder.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_rules_dir() -> Path:
    packaged = _PACKAGE / "_builtin_rules"
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / "rules"


def systems_dir() -> Path:
    return builtin_rules_dir() / "systems"


def packs_dir() -> Path:
    return builtin_rules_dir() / "packs"
