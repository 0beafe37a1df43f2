"""``audit rules lint`` warns about selectors that can match nothing: a system no profile
names (with the nearest one), and, given span files or a store, every rule that judges no job
there (with the nearest system or job name seen). ``--strict`` turns warnings into exit 2."""

from __future__ import annotations

from pathlib import Path

from tests.integration.scan.test_gate import CELERY, DESIGN, audit

TYPOS = """\
rules:
  - id: typo
    severity: high
    jobs: {system: celey}
    expect: {effect: email.sent}
  - id: name-typo
    severity: high
    jobs: {system: celery, name: shop.send_order_confirmaton}
    expect: {effect: email.sent}
"""


def test_a_system_no_profile_names_is_a_located_warning_with_did_you_mean(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TYPOS)
    result = audit("rules", "lint", rules)
    assert result.returncode == 0
    assert f"{rules}:4:20: rule 'typo': no profile names system 'celey'" in result.stderr
    assert "did you mean 'celery'?" in result.stderr
    assert "name-typo" not in result.stderr  # without traffic, a job name cannot be judged
    assert audit("rules", "lint", rules, "--strict").returncode == 2


def test_given_spans_every_rule_that_judges_no_job_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TYPOS)
    result = audit("rules", "lint", rules, "--spans", CELERY)
    assert "rule 'typo' judged no job" in result.stderr
    assert "rule 'name-typo' judged no job" in result.stderr
    assert "did you mean 'shop.send_order_confirmation'?" in result.stderr
    assert result.returncode == 0
    assert audit("rules", "lint", rules, "--spans", CELERY, "--strict").returncode == 2


def test_rules_that_judge_jobs_lint_without_warnings() -> None:
    result = audit("rules", "lint", DESIGN, "--spans", CELERY, "--strict")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


def test_the_repository_rules_folder_lints_strictly_clean() -> None:
    # rules/ holds the built-in packs next to the examples: named again, they do not warn
    repo = Path(__file__).resolve().parents[3]
    result = audit("rules", "lint", "rules/", "--strict", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
