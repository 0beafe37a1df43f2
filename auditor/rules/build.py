"""One rule file's document → typed rules, with every problem located.

Pure: called by ``auditor.rules.loader`` with a ``Located`` document (the loader reads files).
``build_rule_file`` checks the document against the schema (``auditor.rules.schema``) and the
semantic rules the schema cannot state, and returns the ``RuleFile`` with all problems of that
file. Rules are only constructed when the file has no problem, so the construction below can
trust shapes; the semantic checks run on raw values and must tolerate any shape, so that one
pass reports everything.

Semantic rules checked here:

- ``where:`` (on ``jobs`` and ``expect.span``) is a pure SQL condition (``auditor.rules.where``);
- ``jobs.where`` names only columns every row the rule judges has: a job run's columns
  (``attempt``, ``outcome``, ``done_ns`` …) not with ``complete_within``, which judges
  enqueues (a lost job has no run, so no attempt: the condition could be neither true nor
  false, and dropping it would judge jobs the author excluded), and an enqueue's
  (``enqueued_ns``) not with ``expect``, which judges runs. The columns both have
  (``system``, ``job_id``, ``job_name``, ``queue``, ``service`` …) and the span's own
  (``ServiceName``, ``Duration``, ``SpanAttributes`` …) serve both;
- ``expect.key`` only with ``correlate: key``;
- durations parse (the schema pattern says the same thing, in the same words).

Defaults applied: ``title`` = id; ``checks`` = all four when ``expect`` is given;
``correlate: key`` without ``key:`` = ``{job: job.id, effect: job.id}``; ``tolerance`` = 2ms;
``complete_within`` adds the ``complete_within`` check (``lost_job``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.findings.model import Severity
from auditor.rules.durations import DurationError, parse_duration
from auditor.rules.model import (
    DEFAULT_TOLERANCE_S,
    Attributes,
    Check,
    Correlate,
    Expect,
    JobSelector,
    KeyMap,
    Location,
    Rule,
    RuleFile,
    SpanSelector,
    SystemEntry,
)
from auditor.rules.schema import RULE_FILE_VOCABULARY, field_label, rule_file_schema
from auditor.rules.where import columns_named, where_problem
from auditor.tables import ENQUEUES, JOB_RUNS
from auditor.yamlloc import Located, Path, Problem, sorted_problems, validate

_DURATIONS: tuple[Path, ...] = (("expect", "within"), ("expect", "tolerance"), ("complete_within",))
_WHERES: tuple[Path, ...] = (("jobs", "where"), ("expect", "span", "where"))


def build_rule_file(
    document: Located, system_schema: Mapping[str, Any] | None = None
) -> tuple[RuleFile, list[Problem]]:
    """The file's rules and systems, and its problems (load, schema and semantic), sorted."""
    problems = list(document.problems)
    if document.parsed:
        problems += validate(document, rule_file_schema(system_schema), RULE_FILE_VOCABULARY)
        problems += _semantic_problems(document)
    problems = sorted_problems(problems)
    if problems:
        return RuleFile(document.filename, (), (), document), problems
    value = document.value
    fields = _field_locations(document)
    rules = tuple(
        _rule(document, ("rules", i), raw, fields.get(i, ()))
        for i, raw in enumerate(value.get("rules") or [])
    )
    systems = tuple(
        SystemEntry(raw, ("systems", i), _location(document, ("systems", i)), document)
        for i, raw in enumerate(value.get("systems") or [])
    )
    return RuleFile(document.filename, rules, systems, document), []


def _location(document: Located, path: Path, *, key: bool = False) -> Location:
    pos = document.position(path, key=key)
    return Location(document.filename, pos.line, pos.col)


def _semantic_problems(document: Located) -> list[Problem]:
    rules = document.get(("rules",))
    if not isinstance(rules, list):
        return []
    problems: list[Problem] = []
    for i, raw in enumerate(rules):
        if not isinstance(raw, dict):
            continue
        base: Path = ("rules", i)
        for rel in _WHERES:
            text = document.get((*base, *rel))
            if isinstance(text, str):
                message = where_problem(text, field_label(rel))
                if message is None and rel == ("jobs", "where"):
                    message = _jobs_where_problem(raw, text)
                if message:
                    problems.append(document.problem((*base, *rel), message))
        for rel in _DURATIONS:
            path = (*base, *rel)
            if document.location(path) is not None:
                try:
                    parse_duration(document.get(path), field_label(rel))
                except DurationError as error:
                    problems.append(document.problem(path, str(error)))
        expect = raw.get("expect")
        if isinstance(expect, dict) and "key" in expect:
            correlate = expect.get("correlate", Correlate.TRACE.value)
            if correlate != Correlate.KEY.value:
                shown = correlate if isinstance(correlate, str) else "trace"
                problems.append(
                    document.problem(
                        (*base, "expect", "key"),
                        f"expect.key is used only with correlate: key, not correlate: {shown}",
                        key=True,
                    )
                )
    return problems


_RUN_ONLY = frozenset(JOB_RUNS.names) - frozenset(ENQUEUES.names)
_ENQUEUE_ONLY = frozenset(ENQUEUES.names) - frozenset(JOB_RUNS.names)


def _jobs_where_problem(raw: Mapping[str, Any], text: str) -> str | None:
    """Why a valid ``jobs.where`` cannot select the rows the rule judges, or None."""
    named = columns_named(text)
    if "complete_within" in raw and named & _RUN_ONLY:
        shown = ", ".join(sorted(named & _RUN_ONLY))
        return (
            f"jobs.where names {shown}, which a job run has and an enqueue has not; "
            "complete_within judges enqueues (a lost job never ran): put complete_within "
            "in a rule of its own"
        )
    if "expect" in raw and named & _ENQUEUE_ONLY:
        shown = ", ".join(sorted(named & _ENQUEUE_ONLY))
        return (
            f"jobs.where names {shown}, which an enqueue has and a job run has not; "
            "expect judges job runs"
        )
    return None


def _text_pairs(mapping: Mapping[str, Any] | None) -> Attributes:
    """Attribute / label values as the store keeps them: text, booleans lowercase."""

    def text(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return tuple(sorted((str(k), text(v)) for k, v in (mapping or {}).items()))


def _span(raw: Mapping[str, Any]) -> SpanSelector:
    return SpanSelector(
        name=raw.get("name"),
        kind=raw.get("kind"),
        status=raw.get("status"),
        attributes=_text_pairs(raw.get("attributes")),
        where=raw.get("where"),
    )


def _jobs(raw: Mapping[str, Any]) -> JobSelector:
    return JobSelector(
        system=raw.get("system"),
        name=raw.get("name"),
        queue=raw.get("queue"),
        attributes=_text_pairs(raw.get("attributes")),
        where=raw.get("where"),
    )


def _duration(raw: Mapping[str, Any], key: str) -> float | None:
    return parse_duration(raw[key], key) if key in raw else None


def _expect(raw: Mapping[str, Any]) -> Expect:
    correlate = Correlate(raw.get("correlate", Correlate.TRACE.value))
    key = None
    if correlate is Correlate.KEY:
        key_raw = raw.get("key")
        key = KeyMap(key_raw["job"], key_raw["effect"]) if key_raw else KeyMap()
    tolerance = _duration(raw, "tolerance")
    return Expect(
        effect=raw.get("effect"),
        span=_span(raw["span"]) if "span" in raw else None,
        correlate=correlate,
        key=key,
        within_s=_duration(raw, "within"),
        tolerance_s=DEFAULT_TOLERANCE_S if tolerance is None else tolerance,
        declared=bool(raw.get("declared", False)),
    )


def _rule(
    document: Located,
    path: Path,
    raw: Mapping[str, Any],
    field_locations: tuple[tuple[str, Location], ...],
) -> Rule:
    expect = _expect(raw["expect"]) if "expect" in raw else None
    complete_within = _duration(raw, "complete_within")
    chosen = set(raw.get("checks", [c for c in Check if c.expects]) if expect else ())
    if complete_within is not None:
        chosen.add(Check.COMPLETE_WITHIN)
    return Rule(
        id=raw["id"],
        title=raw.get("title", raw["id"]),
        severity=Severity(raw["severity"]),
        jobs=_jobs(raw.get("jobs") or {}),
        expect=expect,
        checks=tuple(check for check in Check if check in chosen),
        complete_within_s=complete_within,
        labels=_text_pairs(raw.get("labels")),
        runbook=raw.get("runbook", ""),
        description=raw.get("description", ""),
        enabled=raw.get("enabled", True),
        location=_location(document, path),
        field_locations=field_locations,
    )


def _field_locations(document: Located) -> dict[int, tuple[tuple[str, Location], ...]]:
    """For each rule index, where each of its fields is written, by dotted name (one pass)."""
    found: dict[int, list[tuple[str, Location]]] = {}
    for path, loc in document.locations.items():
        if len(path) > 2 and path[0] == "rules" and isinstance(path[1], int):
            rel = path[2:]
            if all(isinstance(step, str) for step in rel):
                dotted = ".".join(str(step) for step in rel)
                location = Location(document.filename, loc.value.line, loc.value.col)
                found.setdefault(path[1], []).append((dotted, location))
    return {i: tuple(sorted(pairs)) for i, pairs in found.items()}
