"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

Pure: ``render(report)`` returns the lines, ending in a newline; printed to stdout inside a
GitHub Actions step, each becomes an annotation on the run (and on the rule file's line in a
pull request's diff, when the rule file is in the repository).

    ::error file=rules/notify.yaml,line=3,title=notify-email-confirmed unconfirmed_done::…

- The command is ``error`` for critical/high, ``warning`` for medium, ``notice`` for low/info.
- ``file``/``line`` point at the rule that raised the finding (a finding lives in spans, not in
  source); a rule without a source file gives an annotation without a location.
- The message is the finding message with its subject: ``(job <name> <id> on <system>, trace
  <id>)``.
- Escaping is GitHub's (actions/toolkit ``command.ts``): in the message ``%`` → ``%25``,
  ``\\r`` → ``%0D``, ``\\n`` → ``%0A``; in property values also ``:`` → ``%3A`` and ``,`` →
  ``%2C``. A newline in span data therefore cannot start a second, forged workflow command;
  other control characters are written as ``\\xNN``.
- Last comes one ``::notice::`` line with the summary sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from auditor.findings.model import Finding, Severity
from auditor.findings.report import Report
from auditor.reports import common

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

COMMANDS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    # Not GitHub's rule but ours: other control characters (a terminal escape in a job name)
    # are shown as \xNN rather than passed to the log viewer.
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(report: Report, f: Finding) -> str:
    rule = common.rule_for(report, f.rule_id, f)
    properties = []
    path = common.rule_path(rule)
    if path:
        properties.append(f"file={escape_property(path)}")
        if rule.line > 0:
            properties.append(f"line={rule.line}")
    properties.append(f"title={escape_property(f'{f.rule_id} {f.kind}')}")
    state = "" if str(f.state) == "open" else f"{f.state}: "
    message = f"{state}{f.message} ({common.job_label(f)}"
    message += f", trace {f.trace_id})" if f.trace_id else ")"
    command = "notice" if str(f.state) == "pending" else COMMANDS[f.severity]
    return f"::{command} {','.join(properties)}::{escape_data(message)}"


def write(report: Report, out: Callable[[str], object]) -> None:
    """The annotations through ``out``, a batch of lines at a time."""
    batch: list[str] = []
    for f in common.ordered(report.findings):
        batch.append(_annotation(report, f) + "\n")
        if len(batch) == 2048:
            out("".join(batch))
            batch = []
    batch.append(f"::notice title=auditor::{escape_data(common.summary_line(report))}\n")
    out("".join(batch))


def render(report: Report) -> str:
    lines: list[str] = []
    write(report, lines.append)
    return "".join(lines)
