"""``audit alerts test`` as a user runs it: the installed ``audit``, real servers as sinks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.alerts import fakes
from tests.systems.smtp_server import free_port

pytestmark = pytest.mark.integration

AUDIT = str(Path(sys.executable).with_name("audit"))
SECRET = "xoxb-very-secret-0123456789"


def _run(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AUDIT, "alerts", "test", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_every_sink_answers_and_says_so(tmp_path: Path) -> None:
    with (
        fakes.webhook() as hook,
        fakes.slack() as slack,
        fakes.Alertmanager() as am,
        fakes.pagerduty() as pd,
        fakes.SmtpSink() as smtp,
    ):
        config = tmp_path / "audit.yaml"
        config.write_text(
            f"""\
alerts:
  - {{sink: webhook, url: "{hook.url("/in")}"}}
  - {{sink: slack, url: "{slack.url("/services/T0/B0/")}${{SLACK_TOKEN}}"}}
  - {{sink: alertmanager, url: "{am.url()}"}}
  - {{sink: pagerduty, routing_key: "${{SLACK_TOKEN}}", url: "{pd.url("/v2/enqueue")}"}}
  - {{sink: email, name: oncall-mail, host: 127.0.0.1, port: {smtp.port}, starttls: false,
      from: auditor@example.org, to: ops@example.org}}
""",
            encoding="utf-8",
        )
        done = _run(config, SLACK_TOKEN=SECRET)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines == [
            "webhook: ok, HTTP 200",
            "slack: ok, HTTP 200",
            "alertmanager: ok, HTTP 200",
            "pagerduty: ok, HTTP 202 (test), HTTP 202 (resolved)",
            "oncall-mail (email): ok, SMTP 250 2.0.0 Ok: queued as TEST1",
        ]
        assert SECRET not in done.stdout + done.stderr
        # each got the sample in its own documented format (the fakes answer 400 otherwise)
        assert hook.received()[0].json()["event"] == "test"
        assert [e["event_action"] for e in (r.json() for r in pd.received())] == [
            "trigger",
            "resolve",
        ]
        assert slack.received()[0].path == f"/services/T0/B0/{SECRET}"
        (mail,) = smtp.messages
        assert mail["Subject"] == "[auditor] Test: 1 finding of auditor-test-alert (info)"
        # only the sinks asked for
        again = _run(config, "--sink", "webhook", SLACK_TOKEN=SECRET)
        assert (again.returncode, again.stdout) == (0, "webhook: ok, HTTP 200\n")
        assert len(slack.received()) == 1


def test_a_sink_that_fails_makes_it_exit_1(tmp_path: Path) -> None:
    with fakes.HttpSink(fakes.always(404, "no_service")) as broken, fakes.webhook() as hook:
        config = tmp_path / "audit.yaml"
        config.write_text(
            f"""\
alerts:
  - {{sink: slack, url: "{broken.url("/services/")}{SECRET}"}}
  - {{sink: webhook, url: "{hook.url("/in")}"}}
  - {{sink: email, host: 127.0.0.1, port: {free_port()}, starttls: false, from: a@x.org, to: b@x.org}}
""",
            encoding="utf-8",
        )
        done = _run(config)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == "slack: FAILED, HTTP 404: no_service"
    assert lines[1] == "webhook: ok, HTTP 200"
    assert lines[2].startswith("email: FAILED, cannot reach the sink: ")
    assert SECRET not in done.stdout + done.stderr


def test_configuration_errors_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text('alerts:\n  - {sink: slack, url: "${NOT_SET_ANYWHERE}"}\n', encoding="utf-8")
    done = _run(config)
    assert done.returncode == 2
    assert "audit.yaml:2:24: environment variable NOT_SET_ANYWHERE is not set" in done.stderr
    config.write_text("store: x.duckdb\n", encoding="utf-8")
    done = _run(config)
    assert done.returncode == 2 and "configures no alert sinks" in done.stderr
    config.write_text("alerts:\n  - {sink: webhook, url: http://127.0.0.1:9}\n", encoding="utf-8")
    done = _run(config, "--sink", "webhok")
    assert done.returncode == 2
    assert (
        "--sink webhok: no such sink; the sinks are webhook (did you mean 'webhook'?)"
        in done.stderr
    )
