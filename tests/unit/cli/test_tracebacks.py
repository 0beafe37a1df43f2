"""Tracebacks never print local variables: a token, a sink URL or a span attribute can be one.

An unexpected error inside a command is shown by ``audit`` as one line (the traceback only
with ``AUDIT_DEBUG=1``, plain, without locals); and Typer's own handler, which prints when the
app is called directly, is configured not to show locals on every app of the command tree.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from auditor.cli.main import app

SECRET = "s3cret-in-a-local-4d1c"

BOOM = textwrap.dedent(
    f"""
    import os, sys
    from auditor.cli import main as cli

    @cli.app.command("boom")
    def boom() -> None:
        token = {SECRET!r}
        raise RuntimeError("boom " + str(len(token)))

    if sys.argv[1] == "typer":
        cli.app(["boom"])          # Typer's own exception handler
    else:
        os.environ["AUDIT_DEBUG"] = "1"
        sys.exit(cli.main(["boom"]))
    """
)


def _run(how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BOOM, how], capture_output=True, text=True, timeout=120
    )


def test_audit_s_debug_traceback_shows_no_locals() -> None:
    done = _run("audit")
    assert done.returncode == 70
    assert "RuntimeError: boom 22" in done.stderr and "Traceback" in done.stderr
    assert SECRET not in done.stderr


def test_typer_s_handler_shows_no_locals() -> None:
    done = _run("typer")
    assert done.returncode != 0
    assert "RuntimeError: boom 22" in done.stderr
    assert SECRET not in done.stderr


def test_every_app_of_the_command_tree_turns_locals_off() -> None:
    apps = [app, *(info.typer_instance for info in app.registered_groups)]
    assert len(apps) >= 4  # the root and its groups (rules, probe, alerts)
    for each in apps:
        assert each is not None
        assert each.pretty_exceptions_show_locals is False
        assert each.pretty_exceptions_enable is False
