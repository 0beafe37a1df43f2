"""``audit probe sql|http``: reconcilers that confirm side effects from a system of record.

    audit probe sql --dsn postgresql://app@db/shop --effect email.sent \\
        --query "SELECT notification_id AS key, job_id, sent_at FROM sent_emails" --every 30s
    audit probe http --url https://psp.internal/captures --items data --effect payment.captured \\
        --key-column payment_id --time-column captured_at

Each new row becomes one ``side_effect.confirm`` span exported over OTLP/HTTP to
``--endpoint`` (``audit serve`` or a Collector). What was confirmed is remembered in
``--state`` (no second confirmation after a restart). ``--once`` runs a single round (cron,
CI); otherwise it polls every ``--every`` until SIGTERM / Ctrl-C. Progress goes to stderr,
one line per round. Main registers it with ``probe.register(app)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import typer

from auditor.cli.help import typer_app
from auditor.errors import UsageError
from auditor.reconcile.export import ConfirmationExporter
from auditor.reconcile.loop import run
from auditor.reconcile.rows import Columns
from auditor.reconcile.sources import Rows, http_rows, sql_rows
from auditor.reconcile.state import State
from auditor.rules.durations import DurationError, parse_duration

probe_app = typer_app(
    name="probe",
    help="Reconcilers: confirm side effects from a database or an HTTP status endpoint.",
    add_completion=False,
)


def register(app: typer.Typer) -> None:
    app.add_typer(probe_app, name="probe")


def _every(text: str) -> float:
    try:
        seconds = parse_duration(text, "--every")
    except DurationError as exc:
        raise UsageError(str(exc)) from None
    if seconds <= 0:
        raise UsageError("--every must be longer than 0s")
    return seconds


def _state_path(state: Path | None, kind: str, source: str, effect: str) -> Path:
    if state is not None:
        return state
    digest = hashlib.sha256(f"{kind}\n{source}\n{effect}".encode()).hexdigest()[:12]
    return Path(f".audit-probe-{kind}-{effect}-{digest}.json")


def _run(
    kind: str, source: str, fetch: Callable[[], Rows], columns: Columns, *, endpoint: str,
    service: str, state: Path | None, every: str, once: bool, timeout: float,
) -> int:  # fmt: skip
    if not columns.effect.strip():
        raise UsageError("--effect must name the effect, e.g. email.sent")
    seconds = _every(every)
    loaded = State.load(_state_path(state, kind, source, columns.effect))
    exporter = ConfirmationExporter(endpoint, service, timeout=timeout)
    return run(fetch, columns, loaded, exporter, every=seconds, once=once)


# Options shared by both commands (Typer needs them spelled per command).
EFFECT = typer.Option(
    ..., "--effect", metavar="NAME", help="side_effect.name of the confirmations, e.g. email.sent."
)
KEY = typer.Option(
    "key", "--key-column", metavar="COLUMN",
    help="Column holding the business key (side_effect.key).",
)  # fmt: skip
JOB = typer.Option(
    "job_id", "--job-id-column", metavar="COLUMN", help="Column holding the job id (job.id)."
)
TIME = typer.Option(
    None, "--time-column", metavar="COLUMN",
    help="Column with the time of the effect.  [default: when the row is first seen]",
)  # fmt: skip
STATUS = typer.Option(
    None, "--status-column", metavar="COLUMN",
    help="Column saying ok/sent/true.  [default: every row is ok]",
)  # fmt: skip
ATTRS = typer.Option(
    None, "--attribute", metavar="COLUMN",
    help="Extra column recorded as reconcile.<column> (repeat for more).",
)  # fmt: skip
SYSTEM = typer.Option(
    None, "--system", metavar="SYSTEM", help="job.system on the confirmations (e.g. celery)."
)
EVERY = typer.Option("30s", "--every", metavar="DURATION", help="Polling interval, e.g. 30s, 5m.")
ONCE = typer.Option(False, "--once", help="Run one round and exit.")
ENDPOINT = typer.Option(
    "http://127.0.0.1:4318", "--endpoint", envvar="OTEL_EXPORTER_OTLP_ENDPOINT", metavar="URL",
    show_envvar=True, help="OTLP/HTTP endpoint (/v1/traces is appended).",
)  # fmt: skip
STATE = typer.Option(
    None, "--state", metavar="FILE",
    help="State file.  [default: a .audit-probe-*.json file in the working directory]",
)  # fmt: skip
SERVICE = typer.Option(
    "audit-probe", "--service", metavar="NAME", help="service.name of the confirmations."
)
TIMEOUT = typer.Option(
    10.0, "--timeout", metavar="SECONDS", help="Seconds for the source and for the export."
)


@probe_app.command("sql")
def sql_command(
    dsn: str = typer.Option(
        ..., "--dsn", envvar="AUDIT_PROBE_DSN", metavar="DSN", help="postgresql://… DSN."
    ),
    query: str = typer.Option(
        ..., "--query", metavar="SQL", help="SELECT returning key / job id columns."
    ),
    effect: str = EFFECT, key_column: str = KEY, job_id_column: str = JOB,
    time_column: str | None = TIME, status_column: str | None = STATUS,
    attribute: list[str] | None = ATTRS, system: str | None = SYSTEM, every: str = EVERY,
    once: bool = ONCE, endpoint: str = ENDPOINT, state: Path | None = STATE,
    service: str = SERVICE, timeout: float = TIMEOUT,
) -> int:  # fmt: skip
    """Confirm side effects from the rows of a PostgreSQL query."""
    columns = Columns(
        effect, key_column, job_id_column, time_column, status_column, system,
        tuple(attribute or ()),
    )  # fmt: skip
    return _run(
        "sql", f"{dsn}\n{query}", lambda: sql_rows(dsn, query, timeout), columns,
        endpoint=endpoint, service=service, state=state, every=every, once=once, timeout=timeout,
    )  # fmt: skip


@probe_app.command("http")
def http_command(
    url: str = typer.Option(..., "--url", metavar="URL", help="Status endpoint answering JSON."),
    items: str | None = typer.Option(
        None, "--items", metavar="FIELD",
        help="Dotted path of the list in the answer, e.g. data.  [default: the answer, when it is a list]",
    ),
    header: list[str] | None = typer.Option(
        None, "--header", metavar="HEADER", help="'Name: value' request header (repeat for more)."
    ),
    effect: str = EFFECT, key_column: str = KEY, job_id_column: str = JOB,
    time_column: str | None = TIME, status_column: str | None = STATUS,
    attribute: list[str] | None = ATTRS, system: str | None = SYSTEM, every: str = EVERY,
    once: bool = ONCE, endpoint: str = ENDPOINT, state: Path | None = STATE,
    service: str = SERVICE, timeout: float = TIMEOUT,
) -> int:  # fmt: skip
    """Confirm side effects from the JSON list an HTTP status endpoint answers."""
    headers: dict[str, str] = {}
    for line in header or []:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {line!r} is not 'Name: value'")
        headers[name.strip()] = value.strip()
    columns = Columns(
        effect, key_column, job_id_column, time_column, status_column, system,
        tuple(attribute or ()),
    )  # fmt: skip
    return _run(
        "http", f"{url}\n{items}", lambda: http_rows(url, items, headers, timeout), columns,
        endpoint=endpoint, service=service, state=state, every=every, once=once, timeout=timeout,
    )  # fmt: skip
