"""The README's "Find the lies" commands run as printed, from a checkout.

The commands are read from README.md (the ``sh`` block of that section), not copied here,
and run one by one through ``bash`` with the installed ``audit`` first on ``PATH``. They run
in a scratch folder that looks like the checkout where it matters (``rules`` is the
checkout's ``rules/``, ``traces.jsonl`` a real capture), so that the store and the SARIF
file they write land there and not in the working tree. Each must exit with the code the
README promises: 1 where a scan finds the capture's lies, 0 elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CAPTURE = REPO / "tests" / "data" / "captures" / "celery" / "traces.jsonl"
SECTION = "## Find the lies"

EXPECTED = {
    "audit scan traces.jsonl --rules rules/ --format table": 1,
    "audit ingest traces.jsonl --db auditor.duckdb": 0,
    "audit scan --db auditor.duckdb --rules rules/ --format sarif -o auditor.sarif": 1,
    "audit rules lint rules/": 0,
    "audit rules explain notify-email-confirmed --rules rules/": 0,
    "audit rules test rules/examples/email_test.yaml": 0,
    "audit rules suggest traces.jsonl --min-runs 5 --min-ratio 0.7 -o suggested.yaml": 0,
}


def readme_commands() -> list[str]:
    """Every command of the section's ``sh`` blocks, in order (``a ; b`` is two)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            commands += [c.strip() for c in line.split(" ; ") if c.strip()]
    return commands


def test_the_readme_lists_the_commands_this_test_knows() -> None:
    assert readme_commands() == list(EXPECTED)


def test_the_readme_commands_run_as_printed(tmp_path: Path) -> None:
    (tmp_path / "rules").symlink_to(REPO / "rules")
    (tmp_path / "traces.jsonl").symlink_to(CAPTURE)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env = {k: v for k, v in env.items() if not k.startswith("AUDIT_")}
    codes = {}
    outputs = {}
    for command in readme_commands():
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        codes[command] = done.returncode
        outputs[command] = done.stdout + done.stderr
    assert codes == EXPECTED, outputs
    assert "problem(s) in rule files" not in "".join(outputs.values())
    sarif = json.loads((tmp_path / "auditor.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"]  # the capture's lies, found in the store
    assert "4 passed, 0 failed" in outputs["audit rules test rules/examples/email_test.yaml"]
    suggested = (tmp_path / "suggested.yaml").read_text(encoding="utf-8")
    assert "- id: celery.shop.send_order_confirmation.email.sent" in suggested
