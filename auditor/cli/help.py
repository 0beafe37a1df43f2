"""How every command's ``--help`` reads: plain text, with placeholders a user would write.

Every Typer app of the CLI (the root and the ``rules`` / ``probe`` groups) is made by
``typer_app``, so that help is printed as plain text: Rich markup mode would read a help
text's ``[default: …; AUDIT_STORE]`` as a markup tag and drop it, and its box-drawn tables
depend on the terminal's width, which the generated reference (``docs/cli.md``) must not.

``readable_placeholders`` runs once over the finished command tree (``auditor.cli.main``): a
parameter that names no ``metavar`` gets Click's classic one from its type (``PATH``,
``TEXT``, ``INTEGER``, ``NUMBER``) instead of Typer's ``<list[Path]>``; an argument shows its
name in capitals (Click's way), without Typer's type column. Commands that know a better word (``FILE``,
``PORT``, ``DURATION``) set ``metavar`` themselves and are left alone. Flags take no value
and show none.

Typer 0.29's parameters keep their annotation in ``type_descriptor``; the CI pins Typer,
and ``tests/unit/cli/test_help.py`` reads every command's help, so a Typer that changes
this shows up as a failing test, not as odd help.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import typer

_PLACEHOLDERS: dict[Any, str] = {Path: "PATH", str: "TEXT", int: "INTEGER", float: "NUMBER"}


def typer_app(**options: Any) -> typer.Typer:
    """A Typer app (the root or a group of commands) whose help is plain text, and whose
    tracebacks (were Typer to print one) never show local variables: they can hold tokens,
    sink URLs and span attributes."""
    options.setdefault("no_args_is_help", True)
    options.setdefault("pretty_exceptions_enable", False)
    options.setdefault("pretty_exceptions_show_locals", False)
    return typer.Typer(rich_markup_mode=None, **options)


def _placeholder(param: Any) -> str:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    return _PLACEHOLDERS.get(annotation, str(param.name).upper())


def _no_type_column(ctx: Any) -> None:
    return None


def readable_placeholders(command: Any) -> Any:
    """``command`` and every command below it, with readable placeholders; returns it."""
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        if param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = str(param.name).upper()
            param.display_type_rich = _no_type_column  # the metavar says it
        elif param.metavar is None:
            param.metavar = _placeholder(param)
    for sub in getattr(command, "commands", {}).values():
        readable_placeholders(sub)
    return command
