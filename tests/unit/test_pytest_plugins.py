"""The pytest plugins: ``probe_spans`` (auditor-probes) in users' tests, and ``--auditor-spans``
(auditor) for ``audit scan``.

A user's test suite is written to a temporary folder and run by a real pytest in a subprocess
(the plugin registers a span processor on the global provider, which must not leak here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import probes
from probes.testing import assert_confirmed


@probes.expects("email.sent")
def send_receipt(order_id, really=True):
    if really:
        with probes.confirm("email.sent", key=order_id):
            pass


def test_honest_job(probe_spans):
    with probes.job_run("shop", "job-1", "send_receipt"):
        send_receipt("ORD-1")
    assert_confirmed(probe_spans, "email.sent", key="ORD-1", times=1)


def test_lying_job_still_passes_here_but_audit_scan_finds_it(probe_spans):
    with probes.job_run("shop", "job-2", "send_receipt"):
        send_receipt("ORD-2", really=False)
    assert len(probe_spans.spans) == 1   # cleared per test: only this test's run span
"""


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """A user's pytest run: the plugin loads through its ``pytest11`` entry point."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_session_spans_file_is_what_audit_scan_reads(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    spans_file = tmp_path / "out" / "spans.jsonl"
    result = run_pytest(tmp_path, "--auditor-spans", str(spans_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"written to {spans_file}" in result.stdout

    lines = spans_file.read_text().splitlines()
    assert len(lines) == 1
    names = [
        span["name"]
        for rs in json.loads(lines[0])["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]
    assert sorted(names) == ["run send_receipt", "run send_receipt", "side_effect.confirm"]

    scan = subprocess.run(
        [sys.executable, "-m", "auditor.cli.main", "scan", str(spans_file), "--format", "json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert scan.returncode == 1, scan.stderr
    findings = json.loads(scan.stdout)["findings"]
    assert [(f["job_id"], f["kind"], f["rule_id"]) for f in findings] == [
        ("job-2", "unconfirmed_done", "declared-effects-confirmed")
    ]


def test_without_the_option_nothing_is_written(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "auditor:" not in result.stdout
    assert list(tmp_path.glob("**/*.jsonl")) == []
