"""``audit demo`` and ``audit tui --db`` in a real terminal: tmux at 120x36 and 80x24, keys
sent as a person types them, the screen captured as text and checked."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
]
SIZES = [(120, 36), (80, 24)]


class Terminal:
    def __init__(self, name: str) -> None:
        self.name = name

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, text: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} not on the screen after {timeout:.0f} s:\n{screen}")

    def alive(self) -> bool:
        return self.name in self.tmux("list-sessions", "-F", "#{session_name}")


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Iterator[callable]:  # type: ignore[valid-type]
    names: list[str] = []

    def start(command: str, width: int, height: int) -> Terminal:
        name = f"audit-tui-{uuid.uuid4().hex[:8]}"
        names.append(name)
        env = f"cd {shlex.quote(str(REPO))} && TERM=xterm-256color {command}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), env],
            check=True,
            env={**os.environ, "TMUX": ""},
        )
        return Terminal(name)

    yield start
    for name in names:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)


def audit(*args: str) -> str:
    return " ".join(
        [shlex.quote(sys.executable), "-m", "auditor.cli.main", *map(shlex.quote, args)]
    )


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_audit_demo_then_audit_tui_db_in_a_real_terminal(
    terminal: callable,  # type: ignore[valid-type]
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    db = tmp_path / "demo.duckdb"
    term = terminal(audit("demo", "--db", str(db), "--copies", "2"), width, height)
    term.wait_for("critical")  # the table is up (the demo's own line also says "32 findings")
    screen = term.wait_for("32 findings")
    assert "sev" in screen and "rule" in screen and "Filter" in screen
    # keys at a person's pace: the bar takes focus after the keys already queued with "/"
    time.sleep(1)
    term.keys("/")
    time.sleep(1)
    term.type("kind:lost_job")
    time.sleep(0.5)
    term.keys("Enter")
    screen = term.wait_for("2 of 32 findings")
    assert "lost_job" in screen
    term.keys("Enter")
    screen = term.wait_for("Expected:")
    assert "never ran" in screen
    time.sleep(1)
    term.keys("Escape")  # a lone escape: the app waits a moment to tell it from a sequence
    time.sleep(1)
    term.wait_for("2 of 32 findings")
    term.keys("q")
    deadline = time.monotonic() + 30
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not term.alive(), "audit demo did not exit on q"
    assert db.exists()

    term = terminal(audit("tui", "--db", str(db)), width, height)
    screen = term.wait_for("32 findings")
    if width >= 100:
        assert "findings by rule" in screen
    else:
        assert "findings by rule" not in screen  # the side panel gives way at 80 columns
    time.sleep(1)
    term.keys("?")
    screen = term.wait_for("Findings keys")
    assert "Filter" in screen
    time.sleep(1)
    term.keys("Escape")
    time.sleep(1)
    term.keys("S")
    screen = term.wait_for("spans stored")
    assert "Not available" in screen
    time.sleep(1)
    term.keys("Escape")
    time.sleep(1)
    term.keys("q")
