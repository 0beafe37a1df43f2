"""The two distributions build, install into fresh virtual environments, and do what the
README promises there.

Both wheels (``auditor-probes`` from ``packaging/probes``, ``auditor`` from the root) are built
from this tree once. ``pip install auditor`` from them (dependencies from the pip cache or the
index, at the versions CI pins) gives a working ``audit``: the built-in rules are found outside
a checkout, and a scan of a real capture finds its lies. ``pip install auditor-probes`` alone
gives ``probes`` with opentelemetry-api and nothing of the server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

# Building and installing into a fresh venv takes minutes on a busy 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / ".ci" / "constraints.txt"
CAPTURE = REPO / "tests/data/captures/celery/traces.jsonl"
RULES = REPO / "tests/data/fixtures/api/celery_shop.yaml"
FINDINGS = 8  # what `audit scan CAPTURE --rules RULES` finds

# What a worker that installs only the probes must not get.
SERVER_ONLY = ("duckdb", "pyarrow", "grpcio", "textual", "psycopg", "aiohttp", "typer", "auditor")


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
         str(REPO / "packaging" / "probes"), str(REPO)]
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    return out


def _fresh_venv(root: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(root)
    return root / "bin"


def _install(bin_dir: Path, wheels: Path, *requirements: str) -> None:
    done = _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--find-links", str(wheels),
         "-c", str(CONSTRAINTS), *requirements]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _installed(bin_dir: Path) -> set[str]:
    listed = _run([str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"])
    assert listed.returncode == 0, listed.stderr
    return {p["name"].lower() for p in json.loads(listed.stdout)}


def test_each_wheel_holds_its_own_packages(wheels: Path) -> None:
    [probes_wheel] = wheels.glob("auditor_probes-*.whl")
    [auditor_wheel] = wheels.glob("auditor-*.whl")
    probes_top = {n.split("/")[0] for n in zipfile.ZipFile(probes_wheel).namelist()}
    auditor_files = zipfile.ZipFile(auditor_wheel).namelist()
    auditor_top = {n.split("/")[0] for n in auditor_files}
    assert probes_top == {"probes", probes_wheel.name.split("-py3")[0] + ".dist-info"}
    assert "probes" not in auditor_top  # one owner per file: auditor-probes
    assert {"auditor", "tui"} <= auditor_top
    assert "auditor/_builtin_rules/systems/celery.yaml" in auditor_files
    metadata = zipfile.ZipFile(auditor_wheel).read(
        next(n for n in auditor_files if n.endswith(".dist-info/METADATA"))
    )
    assert b"Requires-Dist: auditor-probes" in metadata


def test_the_probes_distribution_alone_brings_only_opentelemetry_api(
    wheels: Path, tmp_path: Path
) -> None:
    bin_dir = _fresh_venv(tmp_path / "worker")
    _install(bin_dir, wheels, "auditor-probes")
    installed = _installed(bin_dir)
    assert "auditor-probes" in installed and "opentelemetry-api" in installed
    assert sorted(installed & set(SERVER_ONLY)) == []
    assert "opentelemetry-sdk" not in installed
    used = _run(
        [str(bin_dir / "python"), "-c",
         "import probes, probes.guard\n"
         "with probes.job_run('shop', 'job-1', 'send'):\n"
         "    with probes.confirm('email.sent', key='ORD-1'):\n"
         "        pass\n"
         "print(probes.__version__)"],
        cwd=tmp_path,
    )  # fmt: skip
    assert used.returncode == 0, used.stderr
    assert used.stdout.strip() == "0.1.0"


def test_pip_install_auditor_gives_the_documented_commands(wheels: Path, tmp_path: Path) -> None:
    bin_dir = _fresh_venv(tmp_path / "venv")
    _install(bin_dir, wheels, "auditor")
    assert {"auditor", "auditor-probes", "textual"} <= _installed(bin_dir)
    audit = str(bin_dir / "audit")
    elsewhere = tmp_path / "elsewhere"  # not a checkout: the built-in rules come from the wheel
    elsewhere.mkdir()

    listed = _run([audit, "rules", "list"], cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert "celery-jobs-run" in listed.stdout and "built-in" in listed.stdout, listed.stdout

    scan = _run(
        [audit, "scan", str(CAPTURE), "--rules", str(RULES), "--format", "json"], cwd=elsewhere
    )
    assert scan.returncode == 1, scan.stderr
    assert len(json.loads(scan.stdout)["findings"]) == FINDINGS

    helped = _run([audit, "serve", "--help"], cwd=elsewhere)
    assert helped.returncode == 0, helped.stderr

    # the TUI and the demo, installed as the README says
    check_tui_and_demo(audit, elsewhere)


def check_tui_and_demo(audit: str, cwd: Path) -> None:
    helped = _run([audit, "tui", "--help"], cwd=cwd)
    assert helped.returncode == 0, helped.stderr
    demo = _run([audit, "demo", "--no-tui"], cwd=cwd)
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "unconfirmed_done" in demo.stdout, demo.stdout
