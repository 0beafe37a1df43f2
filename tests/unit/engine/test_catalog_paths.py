"""The built-in profiles and packs named again among the user's rule paths load once.

In a checkout, ``rules/`` holds the built-in folders next to the examples, so ``--rules
rules/`` names every built-in file a second time; an installed auditor carries its own copy
of them (``auditor/_builtin_rules``). Either way they are the built-ins, not a second
definition of every rule id. A file that only looks like one (changed) is still the user's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.engine.catalog import load_catalog
from auditor.errors import RuleError
from auditor.paths import builtin_rules_dir, packs_dir

REPO_RULES = Path(__file__).resolve().parents[3] / "rules"


def _ids(catalog_paths: list[Path], packs: bool = True) -> list[str]:
    return [r.id for r in load_catalog(catalog_paths, packs=packs).rules.rules]


def test_the_built_in_folder_named_again_loads_once() -> None:
    assert _ids([builtin_rules_dir()]) == _ids([builtin_rules_dir() / "examples"])
    assert _ids([packs_dir(), packs_dir() / "effects.yaml"]) == _ids([])


def test_a_copy_of_the_built_in_files_elsewhere_is_the_built_ins(tmp_path: Path) -> None:
    """How a checkout's rules/ meets an installed auditor's own copy."""
    copy = tmp_path / "rules"
    shutil.copytree(REPO_RULES, copy)
    catalog = load_catalog([copy])
    ids = [r.id for r in catalog.rules.rules]
    assert len(ids) == len(set(ids))
    assert "notify-email-confirmed" in ids  # the examples are the user's
    assert catalog.is_builtin(catalog.rules.get("celery-jobs-run"))  # type: ignore[arg-type]
    assert not catalog.is_builtin(catalog.rules.get("notify-email-confirmed"))  # type: ignore[arg-type]


def test_a_changed_copy_of_a_pack_is_the_users_and_its_ids_collide(tmp_path: Path) -> None:
    changed = tmp_path / "effects.yaml"
    changed.write_text((packs_dir() / "effects.yaml").read_text() + "\n# mine\n")
    with pytest.raises(RuleError) as raised:
        load_catalog([changed])
    assert any(
        "rule id 'declared-effects-confirmed' already defined" in p for p in raised.value.problems
    )


def test_without_packs_a_pack_named_by_the_user_is_loaded_as_the_users() -> None:
    catalog = load_catalog([packs_dir()], packs=False)
    rule = catalog.rules.get("celery-jobs-run")
    assert rule is not None and not catalog.is_builtin(rule)


def test_a_missing_user_path_is_still_reported() -> None:
    with pytest.raises(RuleError) as raised:
        load_catalog([Path("no/such/rules")])
    assert raised.value.problems == ["no/such/rules: no such file or folder"]
