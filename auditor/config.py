"""``audit.yaml``: the sidecar's configuration, with environment overrides.

Precedence, lowest first: built-in defaults, the file (``--config FILE``, else ``./audit.yaml``
when it exists), ``AUDIT_*`` environment variables, command-line flags. ``${VAR}`` in a string
value is replaced by the environment variable (how secrets get in; a missing variable is an
error at its ``file:line:col``). Every problem in the file is reported in one pass, located,
in the user's words; unknown keys are errors with a "did you mean". Secrets are never logged.

The core shape is DESIGN.md's; extend it compatibly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError
from auditor.rules.durations import DURATION_PATTERN, DurationError, parse_duration
from auditor.yamlloc import Located, Problem, load_located, validate

DEFAULT_FILE = Path("audit.yaml")
_SEVERITIES = ["info", "low", "medium", "high", "critical"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "auditor configuration (audit.yaml)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "store": {"type": "string", "description": "DuckDB store file."},
        "rules": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Rule files or folders, added to the built-in profiles and packs.",
        },
        "receivers": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "http_port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "grpc_port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "max_body_size": {"type": "integer", "minimum": 1},
                "max_pending_spans": {"type": "integer", "minimum": 1},
                "decode_workers": {"type": "integer", "minimum": 0},
            },
        },
        "evaluation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "interval": {
                    "type": ["string", "number"],
                    "pattern": DURATION_PATTERN,
                    "x-expected": "a duration like 10s, 1m",
                },
                "grace": {
                    "type": ["string", "number"],
                    "pattern": DURATION_PATTERN,
                    "x-expected": "a duration like 5m",
                },
            },
        },
        "alerts": {
            "type": "array",
            "description": "Alert sinks (webhook, slack, alertmanager, pagerduty, email).",
            "items": {
                "type": "object",
                "required": ["sink"],
                "properties": {
                    "sink": {"enum": ["webhook", "slack", "alertmanager", "pagerduty", "email"]},
                    "url": {"type": "string"},
                    "min_severity": {"enum": _SEVERITIES},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Settings:
    store: Path = Path("auditor.duckdb")
    rules: tuple[Path, ...] = ()
    host: str = "127.0.0.1"
    http_port: int = 4318
    grpc_port: int = 4317
    max_body_size: int = 64 * 1024 * 1024
    max_pending_spans: int = 250_000
    decode_workers: int | None = None
    evaluation_interval_s: float = 10.0
    grace_s: float = 300.0
    alerts: tuple[Mapping[str, Any], ...] = field(default=())
    source: str = ""  # the file read, "" for none


def _expand(document: Located, value: Any, path: tuple[Any, ...], problems: list[Problem]) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                problems.append(document.problem(path, f"environment variable {name} is not set"))
                return ""
            return os.environ[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(document, v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(document, v, (*path, i), problems) for i, v in enumerate(value)]
    return value


def read_config_file(path: Path) -> dict[str, Any]:
    """The validated, ``${VAR}``-expanded contents of a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    document = load_located(text, str(path))
    problems = [*document.problems, *validate(document, CONFIG_SCHEMA)]
    if problems:
        raise ConfigError("\n".join(str(p) for p in problems))
    if document.value is None:
        return {}
    expanded_problems: list[Problem] = []
    value = _expand(document, document.value, (), expanded_problems)
    if expanded_problems:
        raise ConfigError("\n".join(str(p) for p in expanded_problems))
    base = path.parent
    if "store" in value:
        value["store"] = str(base / value["store"])
    if "rules" in value:
        value["rules"] = [str(base / r) for r in value["rules"]]
    return value


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Defaults ← file ← AUDIT_* environment ← flags (flags that are None are not given)."""
    values: dict[str, Any] = {}
    path = config if config is not None else (DEFAULT_FILE if DEFAULT_FILE.exists() else None)
    if path is not None:
        raw = read_config_file(path)
        values["source"] = str(path)
        if "store" in raw:
            values["store"] = Path(raw["store"])
        if "rules" in raw:
            values["rules"] = tuple(Path(r) for r in raw["rules"])
        for key, value in (raw.get("receivers") or {}).items():
            values[key] = value
        evaluation = raw.get("evaluation") or {}
        if "interval" in evaluation:
            values["evaluation_interval_s"] = parse_duration(evaluation["interval"], "interval")
        if "grace" in evaluation:
            values["grace_s"] = parse_duration(evaluation["grace"], "grace")
        if "alerts" in raw:
            values["alerts"] = tuple(raw["alerts"])
    env = os.environ
    if env.get("AUDIT_STORE"):
        values["store"] = Path(env["AUDIT_STORE"])
    if env.get("AUDIT_RULES"):
        values["rules"] = tuple(Path(p) for p in env["AUDIT_RULES"].split(os.pathsep) if p)
    if env.get("AUDIT_HOST"):
        values["host"] = env["AUDIT_HOST"]
    for name, key in (("AUDIT_HTTP_PORT", "http_port"), ("AUDIT_GRPC_PORT", "grpc_port")):
        number = _env_int(name)
        if number is not None:
            values[key] = number
    if env.get("AUDIT_EVALUATION_INTERVAL"):
        try:
            values["evaluation_interval_s"] = parse_duration(
                env["AUDIT_EVALUATION_INTERVAL"], "AUDIT_EVALUATION_INTERVAL"
            )
        except DurationError as exc:
            raise ConfigError(str(exc)) from None
    for key, value in flags.items():
        if value is None:
            continue
        if key == "rules":
            if value:  # --rules adds to the configured rule paths
                values["rules"] = tuple(values.get("rules", ())) + tuple(Path(p) for p in value)
            continue
        values[key] = value
    return Settings(**values)
