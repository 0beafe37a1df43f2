"""The example rule file and its rule unit tests, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from auditor.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "rules" / "examples"


def test_the_example_rule_tests_pass(capsys) -> None:
    assert main(["rules", "test", str(EXAMPLES / "email_test.yaml")]) == 0
    out = capsys.readouterr()
    assert out.out.count("ok ") == 4
    assert "4 passed, 0 failed" in out.err


def test_the_example_rules_lint_clean(capsys) -> None:
    assert main(["rules", "lint", str(EXAMPLES / "email.yaml")]) == 0
    assert "3 rule(s) OK" in capsys.readouterr().err


def test_a_failing_rule_test_exits_1_and_says_what_differs(tmp_path: Path, capsys) -> None:
    test = tmp_path / "wrong_test.yaml"
    test.write_text(
        f"rule_files: [{EXAMPLES / 'email.yaml'}]\n"
        "tests:\n"
        "  - name: expects a finding that is not there\n"
        "    spans: []\n"
        "    expect:\n"
        "      - {rule: notify-email-confirmed, kind: unconfirmed_done, job_id: nope}\n"
    )
    assert main(["rules", "test", str(test)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "expected, not found" in out and "'job_id': 'nope'" in out


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("audit")), *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_example_folder_lints_clean_without_its_rule_test_file() -> None:
    done = _audit("rules", "lint", str(EXAMPLES))
    assert done.returncode == 0, done.stderr
    assert "3 rule(s) OK" in done.stderr


def test_rules_test_on_a_folder_runs_the_rule_test_files_in_it() -> None:
    done = _audit("rules", "test", str(EXAMPLES.parent))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ok    ") == 4
    assert "email_test.yaml" in done.stdout


def test_rules_test_on_a_folder_without_test_files_is_a_usage_error(tmp_path: Path) -> None:
    done = _audit("rules", "test", str(tmp_path))
    assert done.returncode == 2
    assert f"no rule test files in {tmp_path}" in done.stderr
