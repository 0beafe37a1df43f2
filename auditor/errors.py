"""One small error hierarchy and the single map from errors to exit codes.

Every error a user can cause (a bad flag, a broken rule file, an unreadable input) is an
``AuditError`` subclass. The CLI prints ``audit: error: <message>`` on stderr and exits with
``exit_code_for(error)``; nothing else in the code decides exit codes, and no traceback
reaches a user for an expected error.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # audit scan: findings at or above --fail-on
    USAGE = 2  # usage, configuration or rule error
    INPUT = 3  # unreadable input
    INTERNAL = 70  # a bug: EX_SOFTWARE


class AuditError(Exception):
    """An expected error, reported to the user as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(AuditError):
    exit_code = ExitCode.USAGE


class ConfigError(AuditError):
    exit_code = ExitCode.USAGE


class RuleError(AuditError):
    """One or more problems in rule files, each already formatted as ``file:line:col: message``."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class InputError(AuditError):
    """Input that cannot be read or decoded (a file, stdin)."""

    exit_code = ExitCode.INPUT


class StoreError(AuditError):
    """The store cannot be opened (locked by another process, wrong format, newer schema)."""

    exit_code = ExitCode.INPUT


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, AuditError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERNAL
    return ExitCode.INTERNAL
