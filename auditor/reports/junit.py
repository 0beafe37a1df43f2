"""``--format junit``: JUnit XML for CI test reports (GitLab, Jenkins, GitHub test-report actions).

Pure: ``render(report)`` returns the XML text (UTF-8 declaration, two-space indent, one
trailing newline), built with ``xml.etree`` and deterministic.

The mapping:

- ``<testsuites name="auditor">`` root, one ``<testsuite>`` per rule (name = rule id, sorted),
  one ``<testcase>`` per (rule, job) the evaluation judged (``report.checked``), with
  ``classname`` = rule id and ``name`` = ``"<system> <job_name> <job_id>"``. A rule that judged
  nothing is an empty suite, so a rule that stopped matching stays visible.
- Each finding is a ``<failure type="<kind>" message="<message>">`` under the test case of
  its job; the element text has the details (severity, state, trace, effect key, fingerprint,
  evidence, runbook). A finding whose job is not among the checked jobs (``duplicate_effect``
  keyed by its effect, a ``lost_job`` that never ran) gets a test case of its own, named for
  the job or, without one, ``"<system> effect <effect_key>"``.
- Only findings at or above ``--fail-on`` fail a test case, so the test report agrees with the
  exit code; a finding below the threshold is listed in the case's ``<system-out>`` instead.
- ``tests`` counts test cases and ``failures`` counts failed test cases (JUnit's meaning:
  tests that failed, not failure elements); ``errors`` and ``skipped`` are always 0. A test
  case can hold more than one ``<failure>`` when one job broke two checks of one rule; the
  Jenkins/GitLab schema allows it.
- Span data can hold characters XML 1.0 cannot carry (most C0 controls); they are written as
  ``\\xNN`` so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from auditor.findings.model import Finding
from auditor.findings.report import Report
from auditor.reports import common

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _case_name(system: str, job_name: str, job_id: str) -> str:
    return " ".join(p for p in (system, job_name, job_id) if p)


def _orphan_case_name(f: Finding) -> str:
    if f.job_id or f.job_name:
        return _case_name(f.system, f.job_name, f.job_id)
    return " ".join(p for p in (f.system, "effect", f.effect_key) if p)


def _details(report: Report, f: Finding) -> str:
    rule = common.rule_for(report, f.rule_id, f)
    lines = [
        f"{f.message}",
        "",
        f"severity: {f.severity}",
        f"state: {f.state}",
        f"subject: {common.job_label(f)}",
    ]
    for label, value in (
        ("queue", f.queue),
        ("attempt", "" if f.attempt is None else str(f.attempt)),
        ("trace id", f.trace_id),
        ("effect", f.effect_name),
        ("effect key", f.effect_key),
    ):
        if value:
            lines.append(f"{label}: {value}")
    lines.append(f"fingerprint: {f.fingerprint}")
    if rule.runbook:
        lines.append(f"runbook: {rule.runbook}")
    if f.evidence:
        lines.append("evidence:")
        for span in f.evidence:
            entry = f"  - {span.role}: {span.name} (trace {span.trace_id} span {span.span_id}"
            entry += f", {span.status})" if span.status else ")"
            if span.note:
                entry += f": {span.note}"
            lines.append(entry)
    return "\n".join(lines)


def render(report: Report) -> str:
    # rule id -> test case name -> its findings (none for a job that passed).
    cases: dict[str, dict[str, list[Finding]]] = defaultdict(dict)
    job_case: dict[tuple[str, str, str], str] = {}
    for c in report.checked:
        name = _case_name(c.system, c.job_name, c.job_id)
        cases[c.rule_id].setdefault(name, [])
        job_case.setdefault((c.rule_id, c.system, c.job_id), name)
    for f in common.ordered(report.findings):
        checked = job_case.get((f.rule_id, f.system, f.job_id)) if f.job_id else None
        cases[f.rule_id].setdefault(checked or _orphan_case_name(f), []).append(f)

    root = ET.Element("testsuites", name=common.TOOL_NAME)
    total_tests = total_failures = 0
    for rule in common.all_rules(report):
        rule_cases = cases.get(rule.id, {})
        suite = ET.SubElement(root, "testsuite", name=_x(rule.id))
        properties = ET.SubElement(suite, "properties")
        for key, value in (
            ("title", rule.title),
            ("severity", str(rule.severity)),
            ("source", f"{rule.source}:{rule.line}" if rule.source and rule.line else rule.source),
            ("runbook", rule.runbook),
            *((f"label.{k}", v) for k, v in sorted(rule.labels)),
        ):
            if value:
                ET.SubElement(properties, "property", name=_x(key), value=_x(value))
        if not len(properties):
            suite.remove(properties)
        failed_cases = 0
        for name in sorted(rule_cases):
            case = ET.SubElement(suite, "testcase", classname=_x(rule.id), name=_x(name))
            notes = []
            case_failed = False
            for f in rule_cases[name]:
                if report.is_failing(f):
                    case_failed = True
                    failure = ET.SubElement(
                        case, "failure", type=str(f.kind), message=_x(f.message)
                    )
                    failure.text = _x(_details(report, f))
                elif str(f.state) == "pending" and f.severity.at_least(report.fail_on):
                    notes.append(
                        f"pending (inside its grace window): {f.kind}: {_details(report, f)}"
                    )
                else:
                    notes.append(
                        f"below --fail-on {report.fail_on}: {f.kind}: {_details(report, f)}"
                    )
            if notes:
                ET.SubElement(case, "system-out").text = _x("\n\n".join(notes))
            failed_cases += case_failed
        suite.set("tests", str(len(rule_cases)))
        suite.set("failures", str(failed_cases))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(rule_cases)
        total_failures += failed_cases
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    root.set("skipped", "0")

    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
