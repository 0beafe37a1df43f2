"""The ``audit`` command: one Typer app, one module per command, one place for exit codes.

``main`` is the console-script entry point. It runs the app without Click's standalone
error handling so that every expected error (an ``AuditError``) becomes one line on stderr,
``audit: error: …``, and the exit code ``auditor.errors.exit_code_for`` gives it. stdout
carries data only. Tracebacks with local variables are off: span attributes can hold secrets.
Help is plain text with readable placeholders (``auditor.cli.help``); ``--install-completion``
sets up shell completion.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any

import typer
import typer.main
from typer.exceptions import Abort as TyperAbort
from typer.exceptions import TyperException

from auditor import __version__
from auditor.cli import alerts, findings, ingest, probe, rules, scan, serve, show, tui
from auditor.cli.help import readable_placeholders, typer_app
from auditor.errors import AuditError, ExitCode, RuleError, exit_code_for

app = typer_app(
    name="audit",
    help="Catch background jobs that say 'done' when the work never happened.",
    # main() reports errors; never dump locals (secrets): typer_app turns both off
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"audit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Catch background jobs that say 'done' when the work never happened."""


serve.register(app)
ingest.register(app)
scan.register(app)
show.register(app)
findings.register(app)
rules.register(app)
probe.register(app)
alerts.register(app)
tui.register(app)


@functools.cache
def command() -> Any:
    """The ``audit`` command tree as Click runs it (built once, with readable placeholders)."""
    return readable_placeholders(typer.main.get_command(app))


def error(message: str) -> None:
    print(f"audit: error: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        result = command().main(args=argv, prog_name="audit", standalone_mode=False)
    except RuleError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        error(f"{len(exc.problems)} problem(s) in rule files")
        return int(exc.exit_code)
    except AuditError as exc:
        error(str(exc))
        return int(exit_code_for(exc))
    except TyperException as exc:
        # Usage errors (exit 2) and other command-line errors, printed by Click itself.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            error(str(exc))
        return int(getattr(exc, "exit_code", ExitCode.USAGE))
    except (TyperAbort, KeyboardInterrupt):
        error("interrupted")
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only on request
        if os.environ.get("AUDIT_DEBUG"):
            traceback.print_exc()
        error(f"internal error: {type(exc).__name__}: {exc} (set AUDIT_DEBUG=1 for a traceback)")
        return int(ExitCode.INTERNAL)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
