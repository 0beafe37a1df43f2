"""``audit serve``'s settings: one frozen type, its defaults, and where each value comes from.

``Settings`` is the only place a default of ``audit serve`` is written. Each of its fields
carries a ``Source``: its key in ``audit.yaml``, its ``AUDIT_*`` environment variable, its
flag, and one sentence of help. The loader below, the flags of ``audit serve``
(``auditor/cli/serve.py``) and the generated reference of ``audit.yaml``
(``docs/configuration.md``) all read them, so none of them can disagree with another.

Precedence, lowest first: the defaults, the file (``--config FILE``, else ``./audit.yaml``
when it exists), ``AUDIT_*`` environment variables, command-line flags. One exception:
``--rules`` adds to the rule paths of the file or ``AUDIT_RULES`` (rules are extra, never a
replacement for the configured ones); every other flag replaces the value.

In the file, ``${VAR}`` in a string value is replaced by the environment variable (how
secrets get in; a missing variable is an error at its ``file:line:col``), and relative paths
(``store``, ``rules``, ``tls``) are relative to the file's folder. Every problem in the file is reported
in one pass, located, in the user's words; unknown keys are errors with a "did you mean".
Secrets are never logged.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from auditor.alerts.config import ALERTS_SCHEMA, parse_alerts
from auditor.engine.evaluate import DEFAULT_WITHIN_S
from auditor.errors import ConfigError
from auditor.receivers.pipeline import DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT_S
from auditor.rules.durations import DURATION_PATTERN, DurationError, format_duration, parse_duration
from auditor.store.writer import DEFAULT_MAX_PENDING_SPANS
from auditor.yamlloc import Located, Problem, load_located, validate

DEFAULT_FILE = Path("audit.yaml")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# How a value written as text (an environment variable) or as YAML becomes the field's type.
Kind = Literal["text", "int", "path", "paths", "duration", "alerts"]


@dataclass(frozen=True)
class Source:
    """Where one setting may come from besides its default, and how to describe it."""

    help: str
    key: str = ""  # dotted key in audit.yaml ("receivers.host"); "" when the file has none
    env: str = ""  # the AUDIT_* variable; "" when there is none
    flag: str = ""  # the flag of `audit serve`
    metavar: str = ""  # the flag's placeholder in --help
    kind: Kind = "text"
    default_text: str = ""  # the default in words, where its value does not say it


def _about(source: Source) -> dict[str, Source]:
    """A setting field's metadata: ``field(default=…, metadata=_about(Source(…)))``."""
    return {"source": source}


@dataclass(frozen=True)
class Settings:
    """Everything ``audit serve`` is configured with; the defaults are the built-in ones."""

    store: Path = field(
        default=Path("auditor.duckdb"),
        metadata=_about(
            Source(
                "DuckDB store file.",
                key="store",
                env="AUDIT_STORE",
                flag="--db",
                metavar="PATH",
                kind="path",
            )
        ),
    )
    rules: tuple[Path, ...] = field(
        default=(),
        metadata=_about(
            Source(
                "Rule files or folders, added to the built-in profiles and packs.",
                key="rules",
                env="AUDIT_RULES",
                flag="--rules",
                metavar="PATH",
                kind="paths",
                default_text="none",
            )
        ),
    )
    host: str = field(
        default="127.0.0.1",
        metadata=_about(
            Source(
                "Address to listen on.",
                key="receivers.host",
                env="AUDIT_HOST",
                flag="--host",
                metavar="HOST",
            )
        ),
    )
    http_port: int = field(
        default=4318,
        metadata=_about(
            Source(
                "OTLP/HTTP port, 0 for any free one.",
                key="receivers.http_port",
                env="AUDIT_HTTP_PORT",
                flag="--http-port",
                metavar="PORT",
                kind="int",
            )
        ),
    )
    grpc_port: int = field(
        default=4317,
        metadata=_about(
            Source(
                "OTLP/gRPC port, 0 for any free one.",
                key="receivers.grpc_port",
                env="AUDIT_GRPC_PORT",
                flag="--grpc-port",
                metavar="PORT",
                kind="int",
            )
        ),
    )
    max_body_size: int = field(
        default=DEFAULT_BODY_LIMIT,
        metadata=_about(
            Source(
                "Largest request body in bytes, compressed or inflated.",
                key="receivers.max_body_size",
                flag="--max-body-size",
                metavar="BYTES",
                kind="int",
                default_text=f"{DEFAULT_BODY_LIMIT} (64 MiB)",
            )
        ),
    )
    body_timeout_s: float = field(
        default=DEFAULT_BODY_TIMEOUT_S,
        metadata=_about(
            Source(
                "Longest time a client may take to send a request body (a slow client gets "
                "408 and does not hold a slot longer), e.g. 30s.",
                key="receivers.body_timeout",
                flag="--body-timeout",
                metavar="DURATION",
                kind="duration",
            )
        ),
    )
    max_pending_spans: int = field(
        default=DEFAULT_MAX_PENDING_SPANS,
        metadata=_about(
            Source(
                "Spans waiting for a commit before requests get 429 / RESOURCE_EXHAUSTED.",
                key="receivers.max_pending_spans",
                flag="--max-pending-spans",
                metavar="N",
                kind="int",
            )
        ),
    )
    decode_workers: int | None = field(
        default=None,
        metadata=_about(
            Source(
                "Front-end worker processes receiving and decoding OTLP; 0 receives in the "
                "store process.",
                key="receivers.decode_workers",
                flag="--decode-workers",
                metavar="N",
                kind="int",
                default_text="one per core",
            )
        ),
    )
    token: str | None = field(
        default=None,
        repr=False,  # a secret: never in a log line or a traceback
        metadata=_about(
            Source(
                "Bearer token the API, /metrics and both OTLP receivers require "
                "(Authorization: Bearer TOKEN; gRPC: authorization metadata); /healthz and "
                "/readyz stay open. Prefer the variable or ${VAR} in the file: a flag is "
                "visible to other users of the machine.",
                key="token",
                env="AUDIT_TOKEN",
                flag="--token",
                metavar="TOKEN",
                default_text="none",
            )
        ),
    )
    tls_cert: Path | None = field(
        default=None,
        metadata=_about(
            Source(
                "TLS certificate (PEM, with its chain) for both OTLP receivers and the API; "
                "with --tls-key they speak TLS only.",
                key="tls.cert",
                env="AUDIT_TLS_CERT",
                flag="--tls-cert",
                metavar="FILE",
                kind="path",
                default_text="none: plain text",
            )
        ),
    )
    tls_key: Path | None = field(
        default=None,
        metadata=_about(
            Source(
                "The TLS certificate's private key (PEM, unencrypted).",
                key="tls.key",
                env="AUDIT_TLS_KEY",
                flag="--tls-key",
                metavar="FILE",
                kind="path",
                default_text="none",
            )
        ),
    )
    evaluation_interval_s: float = field(
        default=10.0,
        metadata=_about(
            Source(
                "How often to re-evaluate the rules, e.g. 10s; 0 turns it off.",
                key="evaluation.interval",
                env="AUDIT_EVALUATION_INTERVAL",
                flag="--evaluation-interval",
                metavar="DURATION",
                kind="duration",
            )
        ),
    )
    retention_s: float = field(
        default=0.0,
        metadata=_about(
            Source(
                "Drop spans older than this, e.g. 7d (never those an open or pending finding "
                "cites); 0 keeps everything.",
                key="retention",
                env="AUDIT_RETENTION",
                flag="--retention",
                metavar="DURATION",
                kind="duration",
            )
        ),
    )
    grace_s: float = field(
        default=DEFAULT_WITHIN_S,
        metadata=_about(
            Source(
                "How long a done job may wait for its confirmation before its finding is open "
                "rather than pending, for rules that set no `within`.",
                key="evaluation.grace",
                kind="duration",
            )
        ),
    )
    alerts: tuple[Mapping[str, Any], ...] = field(
        default=(),
        metadata=_about(
            Source(
                "Alert sinks: a list of {sink: webhook|slack|alertmanager|pagerduty|email, "
                "...}; see docs/alerts.md.",
                key="alerts",
                kind="alerts",
                default_text="none",
            )
        ),
    )
    record: Path | None = field(
        default=None,
        metadata=_about(
            Source(
                "Also append every accepted request to this OTLP JSON-lines file.",
                flag="--record",
                metavar="FILE",
                kind="path",
                default_text="none",
            )
        ),
    )
    log_level: str = field(
        default="info",
        metadata=_about(
            Source(
                f"Log level: {', '.join(LOG_LEVELS)} (info: a line per finding that opens or "
                "resolves, and a summary a minute).",
                flag="--log-level",
                metavar="LEVEL",
            )
        ),
    )
    log_format: str = field(
        default="text",
        metadata=_about(
            Source(
                f"Log format: {', '.join(LOG_FORMATS)} (json: one object a line, for log "
                "shippers).",
                flag="--log-format",
                metavar="FORMAT",
            )
        ),
    )
    source: str = ""  # the file that was read, "" for none (not a setting)


def sources() -> list[tuple[str, Source]]:
    """Every setting's field name and ``Source``, in declaration order."""
    return [
        (f.name, f.metadata["source"])
        for f in dataclasses.fields(Settings)
        if "source" in f.metadata
    ]


def source_of(name: str) -> Source:
    return dict(sources())[name]


DEFAULTS = Settings()


def default_text(name: str) -> str:
    """How the default of setting ``name`` reads in help and docs."""
    source = source_of(name)
    if source.default_text:
        return source.default_text
    value = getattr(DEFAULTS, name)
    if source.kind == "duration":
        return format_duration(value)
    return str(value)


def flag_help(name: str) -> str:
    """The ``--help`` text of setting ``name``'s flag: its help, default, variable and key."""
    source = source_of(name)
    where = [f"default: {default_text(name)}"]
    if source.env:
        where.append(f"env var: {source.env}")
    if source.key:
        where.append(f"audit.yaml: {source.key}")
    return f"{source.help}  [{'; '.join(where)}]"


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "auditor configuration (audit.yaml)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "store": {"type": "string", "description": source_of("store").help},
        "rules": {
            "type": "array",
            "items": {"type": "string"},
            "description": source_of("rules").help,
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
                "body_timeout": {
                    "type": ["string", "number"],
                    "pattern": DURATION_PATTERN,
                    "x-expected": "a duration like 30s",
                },
                "decode_workers": {"type": "integer", "minimum": 0},
            },
        },
        "token": {"type": "string", "minLength": 1, "description": source_of("token").help},
        "tls": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cert": {"type": "string", "description": source_of("tls_cert").help},
                "key": {"type": "string", "description": source_of("tls_key").help},
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
        "retention": {
            "type": ["string", "number"],
            "pattern": DURATION_PATTERN,
            "x-expected": "a duration like 7d",
            "description": source_of("retention_s").help,
        },
        "alerts": {**ALERTS_SCHEMA, "description": source_of("alerts").help},
    },
}


def _expand(
    document: Located,
    value: Any,
    path: tuple[Any, ...],
    problems: list[Problem],
    environ: Mapping[str, str],
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                problems.append(document.problem(path, f"environment variable {name} is not set"))
                return ""
            return environ[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(document, v, (*path, k), problems, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(document, v, (*path, i), problems, environ) for i, v in enumerate(value)]
    return value


def read_config_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The validated, ``${VAR}``-expanded contents of a config file; relative ``store``,
    ``rules`` and ``tls`` paths are made relative to the file's folder."""
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
    value = _expand(
        document, document.value, (), expanded_problems, os.environ if environ is None else environ
    )
    if expanded_problems:
        raise ConfigError("\n".join(str(p) for p in expanded_problems))
    base = path.parent
    if "store" in value:
        value["store"] = str(base / serve_store_path(str(value["store"]), f"{path}: store"))
    if "rules" in value:
        value["rules"] = [str(base / r) for r in value["rules"]]
    for name, file in (value.get("tls") or {}).items():
        value["tls"][name] = str(base / file)
    return value


SERVE_OVER_CLICKHOUSE = (
    "audit serve keeps its spans, findings and alert outbox in DuckDB; serving over ClickHouse "
    "is not built yet (audit scan --backend and audit ingest --backend are): see "
    "docs/clickhouse.md"
)


def serve_store_path(text: str, what: str) -> str:
    """The store file of ``audit serve`` from ``store:`` / ``--backend``: a path, or a
    ``duckdb:///path`` URL. A ClickHouse URL is refused with what is missing."""
    if "://" not in text:
        return text
    from auditor.store.backend import parse_backend

    backend = parse_backend(text)
    if backend.is_clickhouse:
        raise ConfigError(f"{what} {backend}: {SERVE_OVER_CLICKHOUSE}")
    return backend.path


def _convert(kind: Kind, value: Any, what: str) -> Any:
    """``value`` (YAML, already validated by the schema, or environment text) as ``kind``."""
    if kind == "path":
        return Path(value)
    if kind == "paths":
        items = value.split(os.pathsep) if isinstance(value, str) else value
        return tuple(Path(p) for p in items if p)
    if kind == "int" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{what}={value!r} is not a number") from None
    if kind == "duration":
        try:
            return parse_duration(value, what)
        except DurationError as exc:
            raise ConfigError(str(exc)) from None
    if kind == "alerts":
        parse_alerts(value)  # what the schema cannot check (two sinks of one name)
        return tuple(value)
    return value


def _lookup(document: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = document
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def load_settings(
    config: Path | None = None, *, environ: Mapping[str, str] | None = None, **flags: Any
) -> Settings:
    """Defaults ← file ← ``AUDIT_*`` environment ← flags.

    ``flags`` are keyed by field name and typed, except durations, which may be given as
    written (``"30s"``); a flag that is ``None`` was not given. ``environ`` defaults to ``os.environ`` (tests pass their own).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config if config is not None else (DEFAULT_FILE if DEFAULT_FILE.exists() else None)
    if path is not None:
        document = read_config_file(path, env)
        values["source"] = str(path)
        for name, source in sources():
            found, value = _lookup(document, source.key) if source.key else (False, None)
            if found:
                values[name] = _convert(source.kind, value, source.key)
    for name, source in sources():
        text = env.get(source.env) if source.env else None
        if text and name == "store":  # a duckdb:/// URL, or a ClickHouse one refused
            text = serve_store_path(text, source.env)
        if text:  # set and not empty: an empty variable is the same as an unset one
            values[name] = _convert(source.kind, text, source.env)
    for name, value in flags.items():
        if value is None:
            continue
        if name == "rules":
            if value:  # --rules adds to the configured rule paths
                values["rules"] = (*values.get("rules", ()), *(Path(p) for p in value))
            continue
        kind = source_of(name).kind
        # A duration flag may come as written (``--evaluation-interval 30s``).
        values[name] = _convert(kind, value, source_of(name).flag) if kind == "duration" else value
    return Settings(**values)
