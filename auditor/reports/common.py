"""What every renderer shares: finding order, severity words, the summary sentence.

Pure: functions over ``Report`` / ``Finding`` values, no I/O. Only ``auditor.reports`` modules
import this; it never formats for one particular output (escaping belongs to each format).

Decisions that hold across formats, so that the table, SARIF, JUnit and the PR comment list
the same findings in the same order:

- Findings are ordered most severe first, then by rule id, kind, system, job id, effect key
  and fingerprint: a total order, so output is byte-for-byte deterministic.
- A finding whose rule is missing from ``report.rules`` still renders, under a stand-in
  ``RuleInfo`` built from the finding (id as title, the finding's severity).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath, PureWindowsPath

from auditor import __version__
from auditor.findings.model import Finding, RuleInfo, Severity, order_key
from auditor.findings.report import Report
from auditor.findings.table import FindingTable

TOOL_NAME = "auditor"

# Severities from the most to the least severe: the order of every grouped output.
SEVERITIES_DESC: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: -s.rank))


def tool_version(report: Report) -> str:
    return report.tool_version or __version__


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    if isinstance(findings, FindingTable):
        return list(findings)  # already in report order
    return sorted(findings, key=order_key)


def rule_for(report: Report, rule_id: str, fallback: Finding | None = None) -> RuleInfo:
    rule = report.rules.get(rule_id)
    if rule is not None:
        return rule
    severity = fallback.severity if fallback is not None else Severity.MEDIUM
    return RuleInfo(id=rule_id, title=rule_id, severity=severity)


def all_rules(report: Report) -> list[RuleInfo]:
    """The report's rules plus stand-ins for rules only findings name, sorted by id."""
    rules = dict(report.rules)
    for f in ordered(report.findings):
        if f.rule_id not in rules:
            rules[f.rule_id] = rule_for(report, f.rule_id, f)
    return [rules[k] for k in sorted(rules)]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def severity_counts(findings: Iterable[Finding]) -> list[tuple[Severity, int]]:
    counts = Counter(f.severity for f in findings)
    return [(s, counts[s]) for s in SEVERITIES_DESC if counts[s]]


def counts_phrase(report: Report) -> str:
    """``3 findings (2 high, 1 medium)`` or ``no findings``."""
    if not report.findings:
        return "no findings"
    parts = ", ".join(f"{n} {s}" for s, n in severity_counts(report.findings))
    return f"{plural(len(report.findings), 'finding')} ({parts})"


def scope_phrase(report: Report) -> str:
    """``in 14 job checks by 5 rules over 42 spans and 12 job runs (celery 12); failing at >=
    low`` (a check: one rule judging one job; what was read when the report knows it)"""
    summary = report.summary()
    read = ""
    if report.spans:
        runs = sum(report.job_runs.values())
        systems = ", ".join(f"{s} {n}" for s, n in sorted(report.job_runs.items()))
        read = f" over {plural(report.spans, 'span')}"
        read += f" and {plural(runs, 'job run')} ({systems})" if systems else ""
    return (
        f"in {plural(summary['jobs_checked'], 'job check')} by "
        f"{plural(summary['rules'], 'rule')}{read}; failing at >= {report.fail_on}"
    )


def summary_line(report: Report) -> str:
    """One sentence: counts, scope, threshold, baseline.

    ``3 findings (2 high, 1 medium) in 14 job checks by 5 rules; failing at >= low``
    """
    text = f"{counts_phrase(report)} {scope_phrase(report)}"
    failing = report.failing_count()
    if report.findings and failing != len(report.findings):
        text += f" ({failing} failing)"
    if report.baselined:
        text += f"; {report.baselined} suppressed by baseline"
    return text[0].upper() + text[1:]


def job_label(f: Finding) -> str:
    """How a finding names its subject in prose: the job, or the effect for keyed findings."""
    if f.job_id or f.job_name:
        label = f"job {f.job_name or '?'} {f.job_id}".rstrip()
    else:
        label = f"effect {f.effect_name or '?'} key {f.effect_key}"
    return f"{label} on {f.system}" if f.system else label


def short_id(job_id: str, keep: int = 8) -> str:
    """Job ids are often UUIDs: keep a short prefix, like a short commit hash."""
    if len(job_id) <= keep + 4:
        return job_id
    return job_id[:keep] + "…"


def single_line(text: str) -> str:
    """Text from spans, safe for one line: newlines become spaces, control characters visible.

    Span attributes are written by whoever emits spans; a terminal escape sequence or a bare
    carriage return in a job name must not reach a terminal or a CI log as a control code.
    """
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def rule_path(rule: RuleInfo) -> str:
    """The rule's source file as a forward-slash path ("" when the rule has none)."""
    if not rule.source:
        return ""
    if PureWindowsPath(rule.source).drive:
        return PureWindowsPath(rule.source).as_posix()
    return str(PurePosixPath(rule.source.replace("\\", "/")))
