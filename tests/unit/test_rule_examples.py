"""The example rule file and its rule unit tests, as a user runs them."""

from __future__ import annotations

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
