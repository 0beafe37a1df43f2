"""Fuzzing the YAML a user writes: rule files, system profiles (in a rule file's ``systems:``)
and ``audit.yaml``. Whatever the text, loading either succeeds or raises the documented error
(``RuleError`` whose every problem is ``file:line:col: message``; ``ConfigError``), which the
CLI reports on one line with exit 2 — never another exception, which would be a traceback.

Inputs: the shipped examples (a rule file, the Celery profile, a full ``audit.yaml``) mutated
node by node (a value of the wrong type, a key removed, an unknown key or list item added),
arbitrary YAML values, and raw text with YAML's own syntax (anchors, tags, merge keys).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from auditor.config import load_settings
from auditor.errors import ConfigError, RuleError
from auditor.profiles.loader import build_profiles
from auditor.profiles.schema import profile_schema
from auditor.rules.loader import load_rule_texts
from tests.unit.fuzz.strategies import YAML_VALUES, fuzz_settings, mutated

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCATED = re.compile(r"^[^\n]*:\d+:\d+: ", re.MULTILINE)

RULES = yaml.safe_load((REPO_ROOT / "rules/examples/email.yaml").read_text())
PROFILE = yaml.safe_load((REPO_ROOT / "rules/systems/celery.yaml").read_text())
CONFIG = {
    "store": "./auditor.duckdb",
    "rules": ["./rules"],
    "receivers": {"host": "127.0.0.1", "http_port": 4318, "grpc_port": 4317,
                  "max_body_size": 1024, "max_pending_spans": 10, "decode_workers": 1},
    "token": "${FUZZ_TOKEN}",
    "evaluation": {"interval": "10s", "grace": "5m"},
    "retention": "7d",
    "alerts": [
        {"sink": "webhook", "url": "http://hooks.internal/auditor", "min_severity": "high"},
        {"sink": "slack", "url": "https://hooks.slack.example/x"},
    ],
}  # fmt: skip

# Raw text built from YAML's own punctuation and the keys the loaders know.
_TOKENS = st.sampled_from(
    [
        "rules:", "systems:", "- ", "id: a", "  ", "\n", ":", "{", "}", "[", "]", "&a ", "*a",
        "<<: *a", "!!python/object:os.system", "!!binary", "!foo ", "? ", "|", ">", "#", "'",
        '"', "\t", "---", "...", "%YAML 1.1\n", "jobs:", "expect:", "effect: x", "within: 5m",
        "checks:", "severity: high", "runs:", "match:", "job_id: x", "store:", "alerts:",
        "sink: webhook", "receivers:", "~", "2026-12-04", "0o17", ".nan", "\x85", "\ufeff",
    ]
)  # fmt: skip
RAW_TEXT = st.one_of(st.lists(_TOKENS, max_size=30).map("".join), st.text(max_size=200))


def dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def load_rules_and_profiles(text: str) -> None:
    try:
        rule_set = load_rule_texts([("fuzz.yaml", text)], system_schema=profile_schema())
    except RuleError as error:
        assert error.problems
        for problem in error.problems:
            assert LOCATED.match(problem), problem
        return
    build_profiles(rule_set.systems)


def load_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path, environ={"FUZZ_TOKEN": "t"})
    except ConfigError as error:
        assert str(error)


@fuzz_settings
@given(mutated(RULES))
def test_a_rule_file_mutated(document: Any) -> None:
    load_rules_and_profiles(dump(document))


@fuzz_settings
@given(mutated(PROFILE))
def test_a_system_profile_mutated(document: Any) -> None:
    load_rules_and_profiles(dump(document))


@fuzz_settings
@given(st.one_of(YAML_VALUES.map(dump), RAW_TEXT))
def test_any_yaml_as_a_rule_file(text: str) -> None:
    load_rules_and_profiles(text)


@fuzz_settings
@given(mutated(CONFIG))
def test_audit_yaml_mutated(tmp_path_factory: pytest.TempPathFactory, document: Any) -> None:
    load_config(tmp_path_factory.mktemp("config"), dump(document))


@fuzz_settings
@given(st.one_of(YAML_VALUES.map(dump), RAW_TEXT))
def test_any_yaml_as_audit_yaml(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    load_config(tmp_path_factory.mktemp("config"), text)


def test_the_unmutated_documents_load(tmp_path: Path) -> None:
    # The properties above would also hold for loaders that refused everything.
    load_rule_texts([("rules.yaml", dump(RULES))], system_schema=profile_schema())
    rule_set = load_rule_texts([("celery.yaml", dump(PROFILE))], system_schema=profile_schema())
    assert [p.id for p in build_profiles(rule_set.systems)] == ["celery"]
    (tmp_path / "audit.yaml").write_text(dump(CONFIG))
    settings = load_settings(tmp_path / "audit.yaml", environ={"FUZZ_TOKEN": "t"})
    assert settings.token == "t"
