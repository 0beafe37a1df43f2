"""``audit scan`` as a CI gate people trust, driven as a user drives it: the installed
``audit`` command in a subprocess, its exit code, stdout and stderr.

Never green on nothing (no spans: exit 3); a rule that judged no job is a warning naming the
nearest system seen (``--strict``: exit 2); pending findings are shown but do not fail unless
``--fail-on-pending``; every path a user can type wrong is a usage error in one line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.engine.scanning import SCAN_RULES, capture

AUDIT = str(Path(sys.executable).parent / "audit")
CELERY = capture("celery")
DESIGN = SCAN_RULES / "celery-design.yaml"


def audit(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUDIT, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("audit: error: "), result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return lines[-1]


@pytest.mark.parametrize(
    "content",
    ["", '{"hello":"world"}\n', '{"resourceSpans": []}\n'],
    ids=["empty", "unrelated-json", "no-spans"],
)
def test_a_scan_that_read_no_spans_exits_3(tmp_path: Path, content: str) -> None:
    spans = tmp_path / "traces.jsonl"
    spans.write_text(content)
    result = audit("scan", spans, "--format", "json")
    assert result.returncode == 3, result
    assert result.stdout == ""
    line = _one_error_line(result)
    assert "no spans in" in line or "rejected" in result.stderr


def test_the_summary_reports_spans_job_runs_per_system_and_jobs_judged_per_rule() -> None:
    result = audit("scan", CELERY, "--rules", DESIGN, "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    assert summary["spans"] > 0
    assert summary["job_runs"].get("celery", 0) > 0
    assert summary["judged"]["notify-email-confirmed"] > 0
    assert result.returncode == 1


def test_a_misspelt_system_warns_with_did_you_mean_and_strict_fails(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: typo\n    severity: high\n    jobs: {system: celey}\n"
        "    expect: {effect: email.sent}\n"
    )
    loose = audit("scan", CELERY, "--rules", rules, "--no-packs", "--format", "json")
    assert loose.returncode == 0
    assert "audit: warning: rule 'typo' judged no job" in loose.stderr
    assert "did you mean 'celery'?" in loose.stderr

    strict = audit("scan", CELERY, "--rules", rules, "--no-packs", "--format", "json", "--strict")
    assert strict.returncode == 2
    assert "did you mean 'celery'?" in strict.stderr


def test_a_misspelt_job_name_warns_with_the_nearest_name_seen(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: typo\n    severity: high\n"
        "    jobs: {system: celery, name: shop.send_order_confirmaton}\n"
        "    expect: {effect: email.sent}\n"
    )
    result = audit("scan", CELERY, "--rules", rules, "--no-packs", "--format", "json")
    assert "no job named 'shop.send_order_confirmaton'" in result.stderr
    assert "did you mean 'shop.send_order_confirmation'?" in result.stderr


def _done_at(result: subprocess.CompletedProcess[str]) -> int:
    findings = json.loads(result.stdout)["findings"]
    return max(f["done_at_ns"] for f in findings if f["kind"] == "unconfirmed_done")


def test_pending_findings_are_shown_but_fail_only_with_fail_on_pending(tmp_path: Path) -> None:
    first = audit("scan", CELERY, "--rules", DESIGN, "--no-packs", "--format", "json")
    as_of = f"{(_done_at(first) + 10**9) / 1e9:.3f}"  # a second after the last job said done
    # only the findings still inside their 5-minute grace window: the rule's other checks
    # (duplicates, premature) are open whatever the time, so judge a confirmed-only rule
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: mail\n    severity: high\n    jobs: {system: celery}\n"
        "    expect: {effect: email.sent, within: 1h}\n    checks: [confirmed]\n"
    )
    shown = audit("scan", CELERY, "--rules", rules, "--no-packs", "--as-of", as_of, "-f", "json")
    findings = json.loads(shown.stdout)["findings"]
    assert findings and {f["state"] for f in findings} == {"pending"}
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["summary"]["failing"] == 0

    table = audit("scan", CELERY, "--rules", rules, "--no-packs", "--as-of", as_of, "-f", "table")
    assert "pending" in table.stdout

    failing = audit(
        "scan", CELERY, "--rules", rules, "--no-packs", "--as-of", as_of, "--fail-on-pending"
    )
    assert failing.returncode == 1


@pytest.mark.parametrize(
    ("flag", "target", "words"),
    [
        ("-o", "missing-dir/x.json", "no such directory"),
        ("-o", ".", "is a directory"),
        ("--write-baseline", "missing-dir/b.json", "no such directory"),
        ("--baseline", "missing.json", "no such file"),
        ("--baseline", ".", "is a directory"),
    ],
)
def test_every_path_error_is_a_usage_error_in_one_line(
    tmp_path: Path, flag: str, target: str, words: str
) -> None:
    result = audit("scan", CELERY, flag, target, cwd=tmp_path)
    assert result.returncode == 2, result
    line = _one_error_line(result)
    assert words in line and flag in line


def test_a_malformed_baseline_is_a_usage_error(tmp_path: Path) -> None:
    baseline = tmp_path / "b.json"
    baseline.write_text("{nope")
    result = audit("scan", CELERY, "--baseline", baseline)
    assert result.returncode == 2
    assert "baseline is not valid JSON" in _one_error_line(result)


def test_pack_findings_carry_no_location_inside_the_installed_package() -> None:
    sarif = audit("scan", CELERY, "--format", "sarif")
    github = audit("scan", CELERY, "--format", "github")
    assert sarif.returncode == github.returncode == 1
    assert "site-packages" not in sarif.stdout and "_builtin_rules" not in sarif.stdout
    assert "site-packages" not in github.stdout and "_builtin_rules" not in github.stdout
    assert "::error" in github.stdout


def test_with_the_packs_alone_the_summary_counts_their_job_checks_and_names_no_glob() -> None:
    result = audit("scan", CELERY, "--format", "json")
    document = json.loads(result.stdout)
    assert document["summary"]["jobs_checked"] > 0
    assert sum(document["summary"]["judged"].values()) == document["summary"]["jobs_checked"]
    for f in document["findings"]:
        assert "'*'" not in f["message"], f
        if f["kind"] == "duplicate_effect":
            assert f["job_name"], f  # the job that repeated the effect, by name


def test_a_store_that_is_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = audit("scan", "--db", tmp_path)
    assert result.returncode == 2
    assert "is a directory" in _one_error_line(result)
