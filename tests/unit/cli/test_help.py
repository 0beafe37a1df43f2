"""What ``audit … --help`` shows a user, for every command, read from the installed ``audit``.

Placeholders are words a user would type (``PATH``, ``FILE``), never Typer's internal
``<list[Path]>`` / ``<bool>``; ``audit serve`` shows each setting's default, variable and
``audit.yaml`` key (Rich markup used to swallow them); shell completion can be installed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from auditor.cli.main import command
from auditor.config import default_text, sources

AUDIT = str(Path(sys.executable).with_name("audit"))
INTERNAL_PLACEHOLDER = re.compile(r"<(?:list\[|bool>|str>|int>|float>|path>)")


def _command_paths(group: object = None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    group = command() if group is None else group
    paths = [prefix]
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        paths += _command_paths(sub, (*prefix, name))
    return paths


COMMANDS = _command_paths()


def _run_help(words: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUDIT, *words, "--help"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], str]:
    """Every command's help, asked for side by side (each ``audit`` takes a second to start)."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = dict(zip(COMMANDS, pool.map(_run_help, COMMANDS), strict=True))
    for words, result in done.items():
        assert result.returncode == 0, (words, result.stderr)
        assert result.stderr == "", words
    return {words: result.stdout for words, result in done.items()}


def test_every_command_is_found() -> None:
    assert {" ".join(p) for p in COMMANDS} >= {
        "", "serve", "ingest", "scan", "rules", "rules list", "rules lint", "rules explain",
        "rules test", "rules schema", "probe", "probe sql", "probe http",
    }  # fmt: skip


@pytest.mark.parametrize("words", COMMANDS, ids=lambda p: " ".join(("audit", *p)))
def test_help_shows_readable_placeholders(
    words: tuple[str, ...], helps: dict[tuple[str, ...], str]
) -> None:
    text = helps[words]
    assert text.startswith(f"Usage: {' '.join(('audit', *words))} ")
    assert INTERNAL_PLACEHOLDER.search(text) is None, text


def test_serve_help_shows_every_default_variable_and_key(
    helps: dict[tuple[str, ...], str],
) -> None:
    text = " ".join(helps[("serve",)].split())  # unwrapped
    assert "--db PATH DuckDB store file. [default: auditor.duckdb; env var: AUDIT_STORE;" in text
    for name, source in sources():
        if not source.flag:
            continue
        assert source.flag in text
        assert f"default: {default_text(name)}" in text, name
        if source.env:
            assert f"env var: {source.env}" in text, name
        if source.key:
            assert f"audit.yaml: {source.key}" in text, name


def test_rules_test_help_says_what_rules_is_for(helps: dict[tuple[str, ...], str]) -> None:
    text = " ".join(helps[("rules", "test")].split())
    assert "names none" not in text
    assert "--rules PATH Rule files or folders to test, for test files without rule_files." in text


def test_shell_completion_can_be_installed(helps: dict[tuple[str, ...], str]) -> None:
    assert "--install-completion" in helps[()]
    assert "--show-completion" in helps[()]
    # as a person runs it: from a shell, which typer detects among the process's parents
    script = subprocess.run(
        ["bash", "-c", f"'{AUDIT}' --show-completion"], capture_output=True, text=True,
        timeout=60, env={**os.environ, "SHELL": "/bin/bash"},
    )  # fmt: skip
    assert script.returncode == 0
    assert "_AUDIT_COMPLETE" in script.stdout


def test_completion_completes_command_names() -> None:
    done = subprocess.run(
        [AUDIT], capture_output=True, text=True, timeout=60,
        env={**os.environ, "_AUDIT_COMPLETE": "complete_bash", "COMP_WORDS": "audit rules li",
             "COMP_CWORD": "2"},
    )  # fmt: skip
    assert done.stdout.split() == ["list", "lint"]
