"""The typed rule model: what a rule file means, as frozen values with their source locations.

Pure: no I/O, no parsing. Built by ``auditor.rules.build`` from a validated rule file (so every
value here already obeys docs/design.md's contract and the schema), read by the SQL compiler, the
evaluator, ``audit rules list|explain`` and reports. Defaults are already applied: a
compiler never needs to know what an absent key means.

Conventions the compiler can rely on:

- Strings keep the author's spelling; enums are lowercase (``kind: client``,
  ``status: error``, ``correlate: trace``), mapping to the store's ``Client`` / ``Error``
  is the compiler's job.
- Attribute values are text (``250`` → ``"250"``, ``true`` → ``"true"``), as the store
  keeps them; pairs are sorted by key.
- Durations are seconds as floats (``within_s``, ``tolerance_s``, ``complete_within_s``).
- ``Rule.checks`` holds ``Check`` values in canonical order (the enum's) and includes
  ``Check.COMPLETE_WITHIN`` when the rule has a ``complete_within`` deadline, so every check
  maps to one finding kind (``Check.kind``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from auditor.findings.model import Kind, RuleInfo, Severity
from auditor.yamlloc import Located, Path

# The probe convention (docs/design.md): `expect: {effect: X}` means this span with this name.
CONFIRM_SPAN_NAME = "side_effect.confirm"
EFFECT_NAME_ATTRIBUTE = "side_effect.name"
EFFECT_KEY_ATTRIBUTE = "side_effect.key"
JOB_ID = "job.id"


class Check(StrEnum):
    """A check a rule makes, by its name in rule files, in canonical order. Each raises one
    kind of finding (``kind``). The first four judge job runs against the expected effect and
    are written in ``checks:`` (``expects``); ``complete_within`` comes from the rule's
    ``complete_within:`` deadline and judges enqueues. The SQL of each is built by
    ``auditor.rules.compiler.checks.BUILDERS[check]``."""

    CONFIRMED = "confirmed"
    BEFORE_DONE = "before_done"
    AT_MOST_ONCE = "at_most_once"
    EFFECT_OK = "effect_ok"
    COMPLETE_WITHIN = "complete_within"

    @property
    def kind(self) -> Kind:
        """The kind of finding the check raises."""
        return _KIND_OF_CHECK[self]

    @property
    def expects(self) -> bool:
        """Is it one of ``checks:`` (judging job runs against ``expect``)?"""
        return self is not Check.COMPLETE_WITHIN


_KIND_OF_CHECK = {
    Check.CONFIRMED: Kind.UNCONFIRMED_DONE,
    Check.BEFORE_DONE: Kind.PREMATURE_DONE,
    Check.AT_MOST_ONCE: Kind.DUPLICATE_EFFECT,
    Check.EFFECT_OK: Kind.FAILED_EFFECT,
    Check.COMPLETE_WITHIN: Kind.LOST_JOB,
}
DEFAULT_TOLERANCE_S = 0.002

Attributes = tuple[tuple[str, str], ...]


class Correlate(StrEnum):
    TRACE = "trace"  # the effect is in the job run's trace
    LINK = "link"  # the job run and the effect are joined by a span link, either direction
    KEY = "key"  # attribute equality (Expect.key)


@dataclass(frozen=True)
class Location:
    """Where something is written: ``str()`` is ``file:line:col`` (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class SpanSelector:
    """Spans that prove an effect. Every condition given must hold; None means any."""

    name: str | None = None  # glob on SpanName (* and ?)
    kind: str | None = None  # internal | server | client | producer | consumer
    status: str | None = None  # ok | error | unset
    attributes: Attributes = ()  # equality on SpanAttributes, values as text
    where: str | None = None  # a checked, pure SQL condition (auditor.rules.where)


@dataclass(frozen=True)
class JobSelector:
    """Job runs a rule judges. Every condition given must hold; all None selects every job."""

    system: str | None = None  # profile name: celery, rq, …
    name: str | None = None  # glob on job_name
    queue: str | None = None  # equality on queue
    attributes: Attributes = ()  # equality on the job run span's attributes, values as text
    # a checked, pure SQL condition on the job run's row (job_runs columns; for
    # complete_within, enqueues columns) and its span's (otel_traces columns)
    where: str | None = None


@dataclass(frozen=True)
class KeyMap:
    """``correlate: key``: the job-side attribute equal to the effect-side attribute.

    On the job side ``job.id`` means the job run's normalized id, whatever attribute its
    system uses.
    """

    job: str = JOB_ID
    effect: str = JOB_ID


@dataclass(frozen=True)
class Expect:
    """The effect a job run must have. Exactly one of ``effect``, ``span`` and ``declared``
    is set."""

    effect: str | None = None  # side_effect.name of a side_effect.confirm span (a glob)
    span: SpanSelector | None = None
    correlate: Correlate = Correlate.TRACE
    key: KeyMap | None = None  # set if and only if correlate is KEY
    within_s: float | None = None  # grace after done_at; None: the evaluator's default
    tolerance_s: float = DEFAULT_TOLERANCE_S  # before_done clock-skew tolerance
    # every effect named in the run's job.expected_effects attribute (probes.expects)
    declared: bool = False

    @property
    def effect_span(self) -> SpanSelector:
        """The effect as a span selector, the ``effect:`` shorthand expanded."""
        if self.span is not None:
            return self.span
        return SpanSelector(
            name=CONFIRM_SPAN_NAME, attributes=((EFFECT_NAME_ATTRIBUTE, self.effect or ""),)
        )


@dataclass(frozen=True)
class Rule:
    id: str
    title: str  # defaults to the id
    severity: Severity
    jobs: JobSelector
    expect: Expect | None
    checks: tuple[Check, ...]  # in the enum's order
    complete_within_s: float | None = None
    labels: Attributes = ()
    runbook: str = ""
    description: str = ""
    enabled: bool = True
    location: Location = Location("", 0, 0)  # the rule's first key
    # Where each field is written, by dotted name relative to the rule ("id", "jobs.where",
    # "expect.span.where", "labels.team"), for errors the compiler finds later.
    field_locations: tuple[tuple[str, Location], ...] = field(default=(), compare=False, repr=False)

    def finding_kinds(self) -> tuple[Kind, ...]:
        """The kinds of finding this rule can raise, in check order."""
        return tuple(check.kind for check in self.checks)

    def location_of(self, dotted: str) -> Location:
        """Where ``dotted`` (e.g. ``jobs.where``) is written; the rule's location if absent."""
        return dict(self.field_locations).get(dotted, self.location)

    def info(self) -> RuleInfo:
        """What reports need to know of this rule."""
        return RuleInfo(
            id=self.id,
            title=self.title,
            severity=self.severity,
            description=self.description,
            runbook=self.runbook,
            source=self.location.file,
            line=self.location.line,
            labels=self.labels,
        )


@dataclass(frozen=True)
class SystemEntry:
    """One entry of a rule file's ``systems:`` list, kept raw for the profile loader.

    ``document.problem((*path, "name"), "…")`` locates a problem inside it.
    """

    value: dict[str, Any] = field(compare=False)
    path: Path
    location: Location
    document: Located = field(compare=False, repr=False)


@dataclass(frozen=True)
class RuleFile:
    path: str
    rules: tuple[Rule, ...]
    systems: tuple[SystemEntry, ...] = ()
    document: Located | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RuleSet:
    """Every rule of every loaded file; ids are unique across files."""

    files: tuple[RuleFile, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for f in self.files for rule in f.rules)

    @property
    def systems(self) -> tuple[SystemEntry, ...]:
        return tuple(entry for f in self.files for entry in f.systems)

    def enabled(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    def get(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)
