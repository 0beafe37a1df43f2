"""The typed model of a system profile: how one job system's spans become job runs,
enqueues, effects and signals (docs/design.md, "Profiles are data").

Pure values, built by ``profiles.loader`` from ``rules/systems/*.yaml`` (or a rule file's
``systems:``) and compiled to SQL by ``profiles.compiler``. A profile says nothing about
rules; it only normalizes spans into the narrow tables that rules join.

Vocabulary:

- A **condition** (``Cond``) is a test on one span: its name, kind, status, scope, service,
  attributes, events, or (recursively) a child or the parent span. All parts must hold.
- A **value** (``Value``) says where a field comes from: a span attribute, a resource
  attribute, a literal, the span name / service / scope / id / parent id, the first non-empty
  of several, several joined with "/", or the part of a value after a separator.
- A **run shape** is one kind of span that is an execution attempt of a job; a profile may
  have several (RQ records a crashed attempt with a different span than a normal one).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cond:
    name: tuple[str, ...] = ()  # globs on SpanName; any may match
    kind: tuple[str, ...] = ()  # Internal | Server | Client | Producer | Consumer
    status: str | None = None  # Unset | Ok | Error
    scope: str | None = None  # glob on ScopeName
    service: str | None = None  # glob on ServiceName
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # key -> any of these values
    attributes_like: tuple[tuple[str, str], ...] = ()  # key -> glob
    has_attributes: tuple[str, ...] = ()
    lacks_attributes: tuple[str, ...] = ()
    event: str | None = None  # the span has an event with this name
    child: Cond | None = None  # some direct child span satisfies this
    parent: Cond | None = None  # the parent span satisfies this
    any: tuple[Cond, ...] = ()  # at least one of these holds
    not_: Cond | None = None  # this does not hold


@dataclass(frozen=True)
class Value:
    """Where a text field comes from. Exactly one source is set."""

    attribute: str | None = None
    resource: str | None = None
    literal: str | None = None
    span: str | None = None  # "name" | "service" | "scope" | "id" | "parent"
    first: tuple[Value, ...] = ()  # the first non-empty
    join: tuple[Value, ...] = ()  # joined with "/", empty when any part is empty
    after: str | None = None  # with ``of``: the text of ``of`` after the first ``after``
    of: Value | None = None


@dataclass(frozen=True)
class Attempt:
    """The attempt number: an integer attribute plus an offset, or the order of the runs
    of one job by start time (``sequence``)."""

    attribute: str | None = None
    offset: int = 0
    sequence: bool = False


@dataclass(frozen=True)
class Outcome:
    is_: str  # done | failed | retry
    when: Cond


@dataclass(frozen=True)
class DoneAt:
    """One candidate for the moment a run was marked done; the first that exists wins."""

    event: str | None = None  # an event of this name ...
    on: str = "self"  # ... on the run span (self) or on one of its direct children
    child_start: str | None = None  # the start of a child span whose name matches this glob
    child_end: str | None = None


@dataclass(frozen=True)
class SpanSignal:
    """A named fact about a run, when its span satisfies ``when`` (e.g. ``redelivered``)."""

    signal: str
    when: Cond


@dataclass(frozen=True)
class RunShape:
    match: Cond
    job_id: Value
    system: Value | None = None  # default: the profile id
    job_name: Value = field(default_factory=lambda: Value(span="name"))
    queue: Value = field(default_factory=lambda: Value(literal=""))
    attempt: Attempt = field(default_factory=lambda: Attempt(sequence=True))
    outcome: tuple[Outcome, ...] = ()
    done_at: tuple[DoneAt, ...] = ()
    signals: tuple[SpanSignal, ...] = ()
    expected_effects: str = "job.expected_effects"


@dataclass(frozen=True)
class EnqueueShape:
    match: Cond
    job_id: Value
    system: Value | None = None
    job_name: Value = field(default_factory=lambda: Value(span="name"))
    queue: Value = field(default_factory=lambda: Value(literal=""))


@dataclass(frozen=True)
class EffectShape:
    match: Cond
    effect_name: Value
    effect_key: Value
    job_id: Value
    system: Value = field(default_factory=lambda: Value(literal=""))
    error_when: Cond | None = None  # the confirmation itself failed


@dataclass(frozen=True)
class SignalShape:
    """Spans that report something about jobs by id, outside the jobs' traces (BullMQ's
    stalled checker): one signal per matching event, the job id read from the event."""

    match: Cond
    signal: str
    event: str
    job_id_attribute: str
    system: Value | None = None


@dataclass(frozen=True)
class Profile:
    id: str
    title: str = ""
    priority: int = 50  # when two profiles claim one span, the lower number wins
    runs: tuple[RunShape, ...] = ()
    enqueues: tuple[EnqueueShape, ...] = ()
    effects: tuple[EffectShape, ...] = ()
    signals: tuple[SignalShape, ...] = ()
    source: str = ""  # file it came from
    line: int = 0
