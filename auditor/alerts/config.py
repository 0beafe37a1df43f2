"""The ``alerts:`` list of ``audit.yaml``: its JSON Schema and its typed form.

Pure: no I/O. ``ALERTS_SCHEMA`` is the schema of the list (``auditor.config`` puts it in the
schema of ``audit.yaml``, so every mistake in a file is reported at its ``file:line:col``, with
"did you mean"); ``parse_alerts`` turns the checked entries into ``AlertsConfig`` and raises a
``ConfigError`` for what a schema cannot say (two sinks with one name). It checks the schema
again, so values that did not come from a file (tests, code) are held to the same rules.

Every key, its default and its meaning are documented in docs/alerts.md; the defaults are
written here once. Secrets (URLs, header values, routing keys, passwords) arrive already
expanded from ``${VAR}`` and are kept out of every ``repr`` and of every error text
(``SinkConfig.redact``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from auditor.errors import ConfigError
from auditor.findings.model import Kind, Severity
from auditor.rules.durations import DURATION_PATTERN, parse_duration

SINK_TYPES = ("webhook", "slack", "alertmanager", "pagerduty", "email")
# Finding fields a sink may group by; ``fingerprint`` makes one message per finding.
GROUP_FIELDS = (
    "rule_id",
    "kind",
    "severity",
    "system",
    "job_name",
    "queue",
    "service",
    "fingerprint",
)

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
ALERTMANAGER_PATH = "/api/v2/alerts"
DEFAULT_REPEAT_S = 4 * 3600.0
# Alertmanager forgets an alert that is not sent again (its resolve_timeout, 5m by default)
# and asks clients to re-send active alerts every 30 s to 3 min: the default stays inside.
ALERTMANAGER_REPEAT_S = 60.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_GIVE_UP_S = 24 * 3600.0
DEFAULT_SUBJECT_PREFIX = "[auditor]"
# The fewest seconds between two messages to one sink: Slack takes about one message a
# second per incoming webhook, PagerDuty about 120 events a minute per routing key.
MIN_SEND_INTERVAL_S = {"slack": 1.0, "pagerduty": 0.5}

_DURATION = {
    "type": ["string", "number"],
    "pattern": DURATION_PATTERN,
    "minimum": 0,
    "x-expected": "a duration like 30s, 5m or 4h",
}
_STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_COMMON: dict[str, Any] = {
    "sink": {"enum": list(SINK_TYPES)},
    "name": {
        "type": "string",
        "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        "x-expected": "a name of letters, digits, '.', '_' and '-'",
    },
    "min_severity": {"enum": [str(s) for s in Severity]},
    "match": {
        "type": "object",
        "additionalProperties": {"type": ["string", "array"], "items": {"type": "string"}},
    },
    "rules": _STRINGS,
    "kinds": {"type": "array", "items": {"enum": [str(k) for k in Kind]}, "minItems": 1},
    "systems": _STRINGS,
    "group_by": {"type": "array", "items": {"enum": list(GROUP_FIELDS)}, "uniqueItems": True},
    "repeat_interval": _DURATION,
    "send_resolved": {"type": "boolean"},
    "timeout": _DURATION,
    "give_up_after": _DURATION,
    "ca_file": {"type": "string"},
}
_OWN: dict[str, dict[str, Any]] = {
    "url": {"type": "string", "minLength": 1},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    "routing_key": {"type": "string", "minLength": 1},
    "host": {"type": "string", "minLength": 1},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "starttls": {"type": "boolean"},
    "username": {"type": "string"},
    "password": {"type": "string"},
    "from": {"type": "string", "minLength": 1},
    "to": {"type": ["string", "array"], "items": {"type": "string"}, "minItems": 1},
    "subject_prefix": {"type": "string"},
}
# Per sink: (required keys, optional keys of its own).
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "webhook": (("url",), ("headers",)),
    "slack": (("url",), ()),
    "alertmanager": (("url",), ("headers",)),
    "pagerduty": (("routing_key",), ("url",)),
    "email": (
        ("host", "from", "to"),
        ("port", "starttls", "username", "password", "subject_prefix"),
    ),
}


def _not_a_key_of(sink: str) -> dict[str, Any]:
    return {"not": {}, "x-messages": {"not": f"{{label}} is not a key of a {sink} sink"}}


def _per_sink(sink: str) -> dict[str, Any]:
    required, optional = _KEYS[sink]
    foreign = [k for k in _OWN if k not in required and k not in optional]
    if sink == "pagerduty":  # one event per finding: its fingerprint is the dedup_key
        foreign.append("group_by")
    return {
        "if": {"properties": {"sink": {"const": sink}}, "required": ["sink"]},
        "then": {
            "required": list(required),
            "properties": {k: _not_a_key_of(sink) for k in foreign},
        },
    }


ALERTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["sink"],
        "additionalProperties": False,
        "properties": {**_COMMON, **_OWN},
        "allOf": [_per_sink(s) for s in SINK_TYPES],
    },
}


@dataclass(frozen=True)
class Route:
    """Which findings a sink is told about; every condition given must hold."""

    min_severity: Severity = Severity.INFO
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # rule label → accepted values
    rules: tuple[str, ...] = ()  # rule id globs; () = every rule
    kinds: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()

    def accepts(
        self,
        *,
        severity: Severity,
        rule_id: str,
        kind: str,
        system: str,
        labels: Mapping[str, str],
    ) -> bool:
        if not severity.at_least(self.min_severity):
            return False
        if self.rules and not any(fnmatch.fnmatchcase(rule_id, g) for g in self.rules):
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.systems and system not in self.systems:
            return False
        return all(labels.get(name) in values for name, values in self.labels)


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int
    starttls: bool
    sender: str
    to: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX


@dataclass(frozen=True)
class SinkConfig:
    """One entry of ``alerts:``, with every default applied."""

    name: str
    type: str
    route: Route = Route()
    group_by: tuple[str, ...] = ("rule_id",)
    repeat_interval_s: float = DEFAULT_REPEAT_S
    send_resolved: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    give_up_after_s: float = DEFAULT_GIVE_UP_S
    ca_file: str = ""
    url: str = field(default="", repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    routing_key: str = field(default="", repr=False)
    email: EmailSettings | None = None

    @property
    def min_send_interval_s(self) -> float:
        return MIN_SEND_INTERVAL_S.get(self.type, 0.0)

    def secrets(self) -> tuple[str, ...]:
        """Every configured value that must never be shown (longest first)."""
        found = [self.url, self.routing_key, *(v for _, v in self.headers)]
        if self.email is not None:
            found.append(self.email.password)
        # a URL's secret is often its path or query: hide those parts on their own as well
        if self.url:
            rest = re.sub(r"^[a-z]+://[^/]*", "", self.url)
            found.extend(p for p in re.split(r"[/?&=#]", rest) if len(p) >= 8)
        return tuple(sorted({s for s in found if s}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` with every secret of this sink replaced by ``***``."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def describe(self) -> str:
        """How the sink is named to a person: its name and, when they differ, its type."""
        return self.name if self.name == self.type else f"{self.name} ({self.type})"


@dataclass(frozen=True)
class AlertsConfig:
    sinks: tuple[SinkConfig, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sinks)

    def sink(self, name: str) -> SinkConfig | None:
        return next((s for s in self.sinks if s.name == name), None)


def _where(path: Iterable[Any]) -> str:
    text = "alerts"
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


def _schema_problems(entries: Sequence[Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(ALERTS_SCHEMA)
    problems = []
    for error in validator.iter_errors(list(entries)):
        custom = (
            (error.schema or {}).get("x-messages", {}) if isinstance(error.schema, dict) else {}
        )
        if error.validator in custom:
            problems.append(custom[error.validator].format(label=_where(error.absolute_path)))
        else:
            problems.append(f"{_where(error.absolute_path)}: {error.message}")
    return problems


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _alertmanager_url(url: str) -> str:
    """Alertmanager's base URL, or its alerts endpoint, as the endpoint to post to."""
    url = url.rstrip("/")
    return url if url.endswith(ALERTMANAGER_PATH) else url + ALERTMANAGER_PATH


def _sink(entry: Mapping[str, Any], name: str, where: str) -> SinkConfig:
    kind = entry["sink"]
    route = Route(
        min_severity=Severity(entry.get("min_severity", "info")),
        labels=tuple((k, _strings(v)) for k, v in sorted(entry.get("match", {}).items())),
        rules=_strings(entry.get("rules")),
        kinds=_strings(entry.get("kinds")),
        systems=_strings(entry.get("systems")),
    )
    default_repeat = ALERTMANAGER_REPEAT_S if kind == "alertmanager" else DEFAULT_REPEAT_S
    url = str(entry.get("url", PAGERDUTY_URL if kind == "pagerduty" else ""))
    if kind == "alertmanager":
        url = _alertmanager_url(url)
    email = None
    if kind == "email":
        starttls = bool(entry.get("starttls", True))
        email = EmailSettings(
            host=entry["host"],
            port=int(entry.get("port", 587 if starttls else 25)),
            starttls=starttls,
            sender=entry["from"],
            to=_strings(entry["to"]),
            username=entry.get("username", ""),
            password=entry.get("password", ""),
            subject_prefix=entry.get("subject_prefix", DEFAULT_SUBJECT_PREFIX),
        )
        if email.password and not email.username:
            raise ConfigError(f"{where}: password without username")

    def seconds(key: str, default: float) -> float:
        return parse_duration(entry[key], f"{where}.{key}") if key in entry else default

    return SinkConfig(
        name=name,
        type=kind,
        route=route,
        group_by=("fingerprint",)
        if kind == "pagerduty"
        else tuple(entry.get("group_by", ["rule_id"])),
        repeat_interval_s=seconds("repeat_interval", default_repeat),
        send_resolved=bool(entry.get("send_resolved", True)),
        timeout_s=seconds("timeout", DEFAULT_TIMEOUT_S) or DEFAULT_TIMEOUT_S,
        give_up_after_s=seconds("give_up_after", DEFAULT_GIVE_UP_S),
        ca_file=entry.get("ca_file", ""),
        url=url,
        headers=tuple(sorted(entry.get("headers", {}).items())),
        routing_key=entry.get("routing_key", ""),
        email=email,
    )


def parse_alerts(entries: AlertsConfig | Sequence[Mapping[str, Any]] | None) -> AlertsConfig:
    """The typed ``alerts:`` list. A sink without ``name`` is named after its type, the
    second unnamed one of a type ``<type>-2`` and so on: adding a sink at the end never
    renames another (a sink's name keys its outbox rows and its open alerts)."""
    if isinstance(entries, AlertsConfig):
        return entries
    entries = list(entries or ())
    problems = _schema_problems(entries)
    if problems:
        raise ConfigError("\n".join(problems))
    sinks: list[SinkConfig] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        kind = entry["sink"]
        name = entry.get("name", "")
        if not name:
            seen[kind] = seen.get(kind, 0) + 1
            name = kind if seen[kind] == 1 else f"{kind}-{seen[kind]}"
        if any(s.name == name for s in sinks):
            raise ConfigError(f"alerts[{i}]: two sinks are named '{name}'; give each a name")
        sinks.append(_sink(entry, name, f"alerts[{i}]"))
    return AlertsConfig(tuple(sinks))
