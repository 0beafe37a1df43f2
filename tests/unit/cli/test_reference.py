"""The generated reference pages say what the code says: ``docs/cli.md`` is every command's
``--help`` as the installed ``audit`` prints it, and ``docs/configuration.md`` lists every
setting with its default. ``scripts/cli-docs`` rewrites them; this test fails until it ran."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from auditor.cli import reference
from auditor.config import sources

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs"


def test_the_committed_pages_are_what_the_generator_writes() -> None:
    done = subprocess.run(
        [str(REPO / "scripts" / "cli-docs"), "--check"], capture_output=True, text=True,
        timeout=120, cwd=REPO, env={**os.environ, "VENV": str(Path(sys.executable).parents[1])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_cli_page_holds_the_help_the_installed_audit_prints() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    for words in (("serve",), ("rules", "test"), ("probe", "http")):
        printed = subprocess.run(
            [str(Path(sys.executable).with_name("audit")), *words, "--help"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "80"},
        ).stdout  # fmt: skip
        assert f"## `audit {' '.join(words)}`\n\n```text\n{printed}```" in page


def test_every_command_has_a_section() -> None:
    page = reference.cli_page()
    for words in reference.command_paths():
        assert f"## `{' '.join(('audit', *words))}`" in page
    assert page.count("\n## ") == len(reference.command_paths())


def test_the_configuration_page_lists_every_setting_and_its_default() -> None:
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name, source in sources():
        row = next(
            line for line in page.splitlines() if f"| {reference.cell(source.help)} |" in line
        )
        assert f"`{reference.default_text(name)}`" in row
        if source.key:
            assert f"`{source.key}`" in row


def test_check_reports_a_page_that_drifted(tmp_path: Path) -> None:
    (tmp_path / "cli.md").write_text("# stale\n", encoding="utf-8")
    (tmp_path / "configuration.md").write_text(
        (DOCS / "configuration.md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert reference.run(["--docs", str(tmp_path), "--check"]) == 1
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == "# stale\n"
    assert reference.run(["--docs", str(tmp_path)]) == 0
    assert reference.run(["--docs", str(tmp_path), "--check"]) == 0
