"""``audit findings --server URL``: the findings a running ``audit serve`` keeps, in any report
format.

This module parses the arguments and prints; ``api.client.ApiClient`` reads the findings
(every page), the server's rules and its span count, and ``auditor.reports`` renders them as
``audit scan`` does. Unlike a scan, nothing is evaluated: these are the sidecar's findings as
its last evaluation left them, with their state (``pending``, ``open``, ``resolved``) and the
triage people gave them (``acknowledged``, ``false_positive``, ``muted``).

Exit codes as ``audit scan``: 0 nothing needs anyone, 1 a listed finding at or above
``--fail-on`` still needs someone (not resolved, not triaged ``false_positive`` or ``muted``;
pending only with ``--fail-on-pending``), 2 usage error (a bad filter, a missing or wrong
token), 3 the server cannot be reached or fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from auditor import __version__
from auditor.api.wire import finding_from_json
from auditor.cli.scan import COLOR, FORMAT, OUTPUT, TOKEN, WIDE, check_writable, emit
from auditor.errors import ExitCode, UsageError
from auditor.findings.model import Finding, Severity, State, Triage
from auditor.findings.report import Report
from auditor.reports import check_format

DEFAULT_STATES = (str(State.PENDING), str(State.OPEN))
_SETTLED = (Triage.FALSE_POSITIVE, Triage.MUTED)


def register(app: typer.Typer) -> None:
    app.command("findings")(findings_command)


def _severity(flag: str, text: str | None) -> Severity | None:
    if text is None:
        return None
    try:
        return Severity(text.lower())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a severity; use one of {', '.join(s.value for s in Severity)}"
        ) from None


def needs_someone(report: Report, finding: Finding) -> bool:
    """Failing, and nobody settled it: not resolved, not a false positive, not muted."""
    return (
        report.is_failing(finding)
        and finding.state is not State.RESOLVED
        and finding.triage not in _SETTLED
    )


def findings_command(
    server: str = typer.Option(
        ..., "--server", metavar="URL", help="The audit serve to ask (http://host:4318)."
    ),
    token: str | None = TOKEN,
    state: list[str] = typer.Option(
        [],
        "--state",
        metavar="STATE",
        help="Only findings in this state: pending, open, resolved (repeat for several; "
        "default: pending and open).",
    ),
    severity: str | None = typer.Option(
        None, "--severity", metavar="SEVERITY", help="Only findings at least this severe."
    ),
    rule: list[str] = typer.Option(
        [], "--rule", metavar="RULE", help="Only findings of this rule (repeatable)."
    ),
    kind: list[str] = typer.Option(
        [], "--kind", metavar="KIND", help="Only findings of this kind (repeatable)."
    ),
    system: list[str] = typer.Option(
        [], "--system", metavar="SYSTEM", help="Only findings of this job system (repeatable)."
    ),
    triage: list[str] = typer.Option(
        [],
        "--triage",
        metavar="TRIAGE",
        help="Only findings triaged so: new, acknowledged, false_positive, muted (repeatable).",
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="TIME",
        help="Only findings last seen at or after this time (ISO 8601 or epoch seconds).",
    ),
    fmt: str | None = FORMAT,
    output: Path | None = OUTPUT,
    fail_on: str = typer.Option(
        "low",
        "--fail-on",
        help="Exit 1 when a finding that still needs someone is at least this severe.",
    ),
    fail_on_pending: bool = typer.Option(
        False, "--fail-on-pending", help="Pending findings fail too."
    ),
    wide: bool = WIDE,
    color: bool | None = COLOR,
) -> int:
    """List the findings a running audit serve keeps; exit 1 when one still needs someone."""
    fmt = fmt or ("table" if sys.stdout.isatty() and output is None else "json")
    check_format(fmt)
    threshold = _severity("--fail-on", fail_on)
    assert threshold is not None
    least = _severity("--severity", severity)
    if output is not None:
        check_writable("--output", output)
    filters = [("state", s) for s in (state or DEFAULT_STATES)]
    filters += [("rule", r) for r in rule] + [("kind", k) for k in kind]
    filters += [("system", s) for s in system] + [("triage", t) for t in triage]
    if least is not None:
        filters.append(("severity", str(least)))
    if since is not None:
        filters.append(("since", since))
    from auditor.api.client import ApiClient  # httpx loads only to ask

    with ApiClient(server, token) as client:
        findings = [finding_from_json(f) for f in client.findings(filters)]
        rules = client.rules()
        spans = int(client.stats()["store"]["spans"])
    report = Report(
        findings=findings,
        rules=rules,
        inputs=(server,),
        spans=spans,
        fail_on=threshold,
        fail_on_pending=fail_on_pending,
        tool_version=__version__,
    )
    emit(fmt, report, output, color, wide)
    failing = any(needs_someone(report, f) for f in report.findings)
    return int(ExitCode.FINDINGS) if failing else int(ExitCode.OK)
