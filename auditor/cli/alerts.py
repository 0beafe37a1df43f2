"""``audit alerts test``: check the alert sinks of ``audit.yaml`` by sending each a sample.

Reads the configuration as ``audit serve`` does (``--config FILE``, else ``./audit.yaml``),
sends one sample alert to every sink in ``alerts:`` (or to those named with ``--sink``)
directly, not through the store's outbox (``auditor.alerts.sample``), and prints one line per
sink on stdout: its name, ``ok`` or ``FAILED``, and what it answered (an HTTP status, an SMTP
reply) or why it did not. Exit 0 when every sink accepted, 1 when one did not, 2 for a
configuration error (no sinks, a missing ``${VAR}``, an unknown ``--sink``). Secrets in the
configuration are never printed.
"""

from __future__ import annotations

from pathlib import Path

import typer

from auditor.alerts.config import parse_alerts
from auditor.cli.help import typer_app
from auditor.config import DEFAULT_FILE, load_settings
from auditor.errors import ConfigError, UsageError
from auditor.yamlloc import did_you_mean

alerts_app = typer_app(help="Check the alert sinks of audit.yaml.", add_completion=False)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def test_command(
    config: Path | None = typer.Option(
        None,
        "--config",
        metavar="FILE",
        help=f"Configuration file.  [default: ./{DEFAULT_FILE} when present]",
        show_default=False,
    ),
    sinks: list[str] = typer.Option(
        [], "--sink", metavar="NAME", help="Test only this sink (repeatable)."
    ),
) -> int:
    """Send a sample alert to every configured sink and say what each answered."""
    if config is None and not DEFAULT_FILE.exists():
        raise ConfigError(f"no configuration: pass --config FILE or create ./{DEFAULT_FILE}")
    settings = load_settings(config)
    alerts = parse_alerts(settings.alerts)
    if not alerts:
        raise ConfigError(f"{settings.source} configures no alert sinks (alerts: is empty)")
    names = [s.name for s in alerts.sinks]
    for name in sinks:
        if name not in names:
            raise UsageError(
                f"--sink {name}: no such sink; the sinks are {', '.join(names)}"
                + did_you_mean(name, names)
            )
    from auditor.alerts.sample import send_samples  # HTTP and SMTP load only to send

    results = send_samples(alerts, only=tuple(sinks))
    for result in results:
        answers = []
        for event, outcome in result.outcomes:
            text = outcome.answer if outcome.ok else (outcome.error or outcome.answer)
            answers.append(f"{text} ({event})" if len(result.outcomes) > 1 else text)
        verdict = "ok" if result.ok else "FAILED"
        print(f"{result.sink.describe()}: {verdict}, {', '.join(answers)}", flush=True)
    return 0 if all(r.ok for r in results) else 1
