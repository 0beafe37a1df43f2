"""System profiles: ``systems:`` entries (already schema-checked) → ``Profile`` values.

The built-in profiles live in ``rules/systems/*.yaml``; a rule file may add its own
``systems:``. Both go through the rule file loader (so a broken profile is reported as
``file:line:col: message`` like a broken rule); this module only turns the checked raw
values into the typed model. A profile with the id of an earlier one replaces it, so users
can adjust a built-in system without forking it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from auditor.profiles.model import (
    Attempt,
    Cond,
    DoneAt,
    EffectShape,
    EnqueueShape,
    Outcome,
    Profile,
    RunShape,
    SignalShape,
    SpanSignal,
    Value,
)
from auditor.rules.model import SystemEntry

_KINDS = {k: k.capitalize() for k in ("internal", "server", "client", "producer", "consumer")}
_STATUS = {"ok": "Ok", "error": "Error", "unset": "Unset"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def cond(raw: Mapping[str, Any] | None) -> Cond:
    raw = raw or {}
    return Cond(
        name=_tuple(raw.get("name")),
        kind=tuple(_KINDS[k] for k in _tuple(raw.get("kind"))),
        status=_STATUS[raw["status"]] if "status" in raw else None,
        scope=raw.get("scope"),
        service=raw.get("service"),
        attributes=tuple(
            sorted(
                (k, tuple(_text(v) for v in _tuple(vs)))
                for k, vs in (raw.get("attributes") or {}).items()
            )
        ),
        attributes_like=tuple(sorted((raw.get("attributes_like") or {}).items())),
        has_attributes=tuple(raw.get("has_attributes") or ()),
        lacks_attributes=tuple(raw.get("lacks_attributes") or ()),
        event=raw.get("event"),
        child=cond(raw["child"]) if "child" in raw else None,
        parent=cond(raw["parent"]) if "parent" in raw else None,
        any=tuple(cond(c) for c in raw.get("any") or ()),
        not_=cond(raw["not"]) if "not" in raw else None,
    )


def value(raw: Any) -> Value:
    if isinstance(raw, str):
        return Value(attribute=raw)
    if "attribute" in raw:
        return Value(attribute=raw["attribute"])
    if "resource" in raw:
        return Value(resource=raw["resource"])
    if "value" in raw:
        return Value(literal=raw["value"])
    if "span" in raw:
        return Value(span=raw["span"])
    if "after" in raw:
        return Value(after=raw["after"], of=value(raw["of"]))
    if "first" in raw:
        return Value(first=tuple(value(v) for v in raw["first"]))
    return Value(join=tuple(value(v) for v in raw["join"]))


def _attempt(raw: Any) -> Attempt:
    if raw is None or raw == "sequence":
        return Attempt(sequence=True)
    if isinstance(raw, str):
        return Attempt(attribute=raw)
    return Attempt(attribute=raw["attribute"], offset=int(raw.get("offset", 0)))


def _optional(raw: Mapping[str, Any], key: str, default: Value) -> Value:
    return value(raw[key]) if key in raw else default


def _run(raw: Mapping[str, Any]) -> RunShape:
    return RunShape(
        match=cond(raw["match"]),
        job_id=value(raw["job_id"]),
        system=value(raw["system"]) if "system" in raw else None,
        job_name=_optional(raw, "job_name", Value(span="name")),
        queue=_optional(raw, "queue", Value(literal="")),
        attempt=_attempt(raw.get("attempt")),
        outcome=tuple(Outcome(o["is"], cond(o["when"])) for o in raw.get("outcome") or ()),
        done_at=tuple(
            DoneAt(
                event=d.get("event"),
                on=d.get("on", "self"),
                child_start=d.get("child_start"),
                child_end=d.get("child_end"),
            )
            for d in raw.get("done_at") or ()
        ),
        signals=tuple(SpanSignal(s["signal"], cond(s["when"])) for s in raw.get("signals") or ()),
        expected_effects=raw.get("expected_effects", "job.expected_effects"),
    )


def _enqueue(raw: Mapping[str, Any]) -> EnqueueShape:
    return EnqueueShape(
        match=cond(raw["match"]),
        job_id=value(raw["job_id"]),
        system=value(raw["system"]) if "system" in raw else None,
        job_name=_optional(raw, "job_name", Value(span="name")),
        queue=_optional(raw, "queue", Value(literal="")),
    )


def _effect(raw: Mapping[str, Any]) -> EffectShape:
    return EffectShape(
        match=cond(raw["match"]),
        effect_name=value(raw["effect_name"]),
        effect_key=value(raw["effect_key"]),
        job_id=value(raw["job_id"]),
        system=_optional(raw, "system", Value(literal="")),
        error_when=cond(raw["error_when"]) if "error_when" in raw else None,
    )


def _signal(raw: Mapping[str, Any]) -> SignalShape:
    return SignalShape(
        match=cond(raw["match"]),
        signal=raw["signal"],
        event=raw["event"],
        job_id_attribute=raw["job_id"],
        system=value(raw["system"]) if "system" in raw else None,
    )


def build_profile(raw: Mapping[str, Any], source: str = "", line: int = 0) -> Profile:
    return Profile(
        id=raw["id"],
        title=raw.get("title", raw["id"]),
        priority=int(raw.get("priority", 50)),
        runs=tuple(_run(r) for r in raw.get("runs") or ()),
        enqueues=tuple(_enqueue(e) for e in raw.get("enqueues") or ()),
        effects=tuple(_effect(e) for e in raw.get("effects") or ()),
        signals=tuple(_signal(s) for s in raw.get("signals") or ()),
        source=source,
        line=line,
    )


def build_profiles(entries: Iterable[SystemEntry]) -> tuple[Profile, ...]:
    """Profiles in load order; a later profile with the same id replaces the earlier one."""
    by_id: dict[str, Profile] = {}
    for entry in entries:
        profile = build_profile(entry.value, entry.location.file, entry.location.line)
        by_id.pop(profile.id, None)
        by_id[profile.id] = profile
    return tuple(by_id.values())
