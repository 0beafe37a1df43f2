"""Suggested rules: from what each job's runs usually had to a rule file a person reviews.

Pure. ``engine.suggest`` measures, per (system, job name), the share of runs marked done
that had each *candidate*: an effect (``expect: {effect: …}``) or a client span that could
serve as a span selector (``expect: {span: …}``). This module decides which of those become
rules (``propose``) and writes them as a rule file in the format of ``docs/design.md``, each
rule under comments giving its evidence (``render``).

The choice, per job:

- fewer than ``min_runs`` runs marked done: no rule ("too few runs"), however regular they
  look;
- otherwise every effect that ``min_ratio`` of the runs confirmed is a rule; span candidates
  that reach the ratio too are written after them as commented-out alternatives. The probes'
  confirmations are preferred because they say explicitly what happened and carry the
  business key, which ``at_most_once`` needs to find duplicates;
- with no such effect, every span candidate that reaches the ratio is a rule;
- with neither: no rule ("no stable effect"), and the best candidate seen is named.

Rule ids are derived from the system, the job name and the candidate, made valid and unique.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from auditor.sqlbuild import is_glob

# Shares are compared as ``confirmed >= min_ratio * runs - RATIO_SLACK`` here and in the SQL:
# 7 of 10 reaches 0.7 although 0.7 * 10 is 7.000000000000001 in floating point.
RATIO_SLACK = 1e-9
WIDTH = 92  # the header's comment lines
SEVERITY = "medium"  # a suggestion is a guess: a person raises it when the job matters


@dataclass(frozen=True)
class Signature:
    """What a candidate is: an effect's name, or what a span selector would say of a span.
    Fields that do not apply are ''. ``*_key`` fields name the attribute a value was read from
    (the semantic conventions renamed several); ``stmt_key`` is set when the operation or the
    table was read from the statement text rather than from an attribute."""

    source: str  # effect | smtp | http | db
    name: str = ""  # the effect name; the span name of an SMTP span
    method_key: str = ""
    method: str = ""
    host_key: str = ""
    host: str = ""
    op_key: str = ""
    op: str = ""
    stmt_key: str = ""
    table_key: str = ""
    table: str = ""

    @property
    def is_effect(self) -> bool:
        return self.source == "effect"

    @property
    def label(self) -> str:
        """In words, as the comments say it: ``email.sent``, ``the smtp.send client span``."""
        if self.source == "effect":
            return self.name
        if self.source == "smtp":
            return f"the {self.name} client span"
        if self.source == "http":
            return f"an HTTP {self.method.upper()} to {self.host}"
        return f"an INSERT into {_unquoted(self.table)}"

    @property
    def slug(self) -> str:
        """The candidate's part of a rule id."""
        if self.source in ("effect", "smtp"):
            return slug(self.name)
        if self.source == "http":
            return slug(f"{self.method}-{self.host}")
        return slug(f"insert-{_unquoted(self.table)}")

    def expect(self) -> dict[str, Any]:
        """The rule's ``expect:`` mapping (without ``correlate``)."""
        if self.source == "effect":
            return {"effect": glob_literal(self.name)}
        span: dict[str, Any] = {}
        if self.source == "smtp":
            span["name"] = glob_literal(self.name)
        span["kind"] = "client"
        attributes: dict[str, str] = {}
        where = None
        if self.source == "http":
            attributes[self.method_key] = self.method
            if self.host_key in ("url.full", "http.url"):
                where = _matches(
                    self.host_key,
                    r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#@]*@)?"
                    + re.escape(self.host)
                    + "([:/?#]|$)",
                )
            else:
                attributes[self.host_key] = self.host
        else:
            if self.op_key:
                attributes[self.op_key] = self.op
            if self.table_key:
                attributes[self.table_key] = self.table
            if self.stmt_key:
                into = "" if self.table_key else r"\s+(?i:into)\s+" + re.escape(self.table)
                # the statement begins with INSERT (and names the table, unless an
                # attribute does)
                where = _matches(self.stmt_key, r"^\s*(?i:insert)" + into + r"([\s(]|$)")
        if attributes:
            span["attributes"] = dict(sorted(attributes.items()))
        if where:
            span["where"] = where
        return {"span": span}


def _matches(key: str, pattern: str) -> str:
    """A ``where:`` testing the span attribute ``key`` against a regular expression."""
    quoted = pattern.replace("'", "''")
    return f"regexp_matches(json_extract_string(\"SpanAttributes\", '$.\"{key}\"'), '{quoted}')"


def _unquoted(table: str) -> str:
    return table.replace('"', "").replace("`", "").replace("[", "").replace("]", "")


@dataclass(frozen=True)
class Example:
    trace_id: str
    job_id: str


@dataclass(frozen=True)
class Candidate:
    """One candidate of one job: how many of its runs marked done had it."""

    signature: Signature
    runs: int  # the job's runs marked done
    confirmed: int  # … that had one that did not fail
    failed: int  # … that had one, and every one failed
    stable: bool = False  # measured with the request's thresholds (examples were kept)
    confirmed_examples: tuple[Example, ...] = ()
    missing_examples: tuple[Example, ...] = ()  # runs without one that did not fail

    @property
    def ratio(self) -> float:
        return self.confirmed / self.runs if self.runs else 0.0

    @property
    def missing(self) -> int:
        """Runs without one that did not fail: those a rule expecting it flags."""
        return self.runs - self.confirmed


@dataclass(frozen=True)
class JobStats:
    system: str
    job_name: str
    runs: int  # runs marked done
    candidates: tuple[Candidate, ...] = ()  # the most frequent first

    @property
    def best(self) -> Candidate | None:
        return max(
            self.candidates, key=lambda c: (c.confirmed, c.signature.is_effect), default=None
        )


@dataclass(frozen=True)
class Suggestion:
    """A rule for one job and one candidate; ``active`` False: a commented-out alternative."""

    rule_id: str
    job: JobStats
    candidate: Candidate
    active: bool = True

    def rule(self) -> dict[str, Any]:
        """The rule as the rule file says it."""
        job, signature = self.job, self.candidate.signature
        verb = "confirm" if signature.is_effect else "make"
        return {
            "id": self.rule_id,
            "title": f"{job.job_name} runs {verb} {signature.label}",
            "severity": SEVERITY,
            "jobs": {"system": job.system, "name": glob_literal(job.job_name)},
            "expect": {**signature.expect(), "correlate": "trace"},
        }


@dataclass(frozen=True)
class Proposal:
    suggestions: tuple[Suggestion, ...]  # file order: by job, rules then alternatives
    too_few: tuple[JobStats, ...]  # jobs with fewer than min_runs runs marked done
    unstable: tuple[JobStats, ...]  # jobs with no candidate reaching min_ratio
    min_runs: int
    min_ratio: float
    inputs: tuple[str, ...] = ()
    jobs: int = 0  # jobs with runs marked done
    runs: int = 0  # their runs marked done

    @property
    def rules(self) -> tuple[Suggestion, ...]:
        return tuple(s for s in self.suggestions if s.active)

    @property
    def flagged(self) -> int:
        """Runs the proposed rules would flag as unconfirmed or failed (counted per rule)."""
        return sum(s.candidate.missing for s in self.rules)

    def summary(self) -> str:
        """One line for stderr."""
        rules = len(self.rules)
        parts = [f"{rules} rule{'s' if rules != 1 else ''} proposed"]
        if self.unstable:
            parts.append(f"{_jobs(len(self.unstable))} without a stable effect")
        if self.too_few:
            parts.append(
                f"{_jobs(len(self.too_few))} with too few runs (--min-runs {self.min_runs})"
            )
        flagged = self.flagged
        tail = (
            f"; {flagged} run{'s' if flagged != 1 else ''} marked done without the effect "
            "would be flagged"
            if rules
            else ""
        )
        return ", ".join(parts) + tail


def _jobs(n: int) -> str:
    return f"{n} job{'s' if n != 1 else ''}"


def meets(confirmed: int, runs: int, min_ratio: float) -> bool:
    return confirmed >= min_ratio * runs - RATIO_SLACK


def propose(
    jobs: Iterable[JobStats], *, min_runs: int, min_ratio: float, inputs: Sequence[str] = ()
) -> Proposal:
    """Which candidates become rules (module docstring), with unique ids, jobs in order."""
    ordered = sorted(jobs, key=lambda j: (j.system, j.job_name))
    suggestions: list[Suggestion] = []
    too_few: list[JobStats] = []
    unstable: list[JobStats] = []
    taken: set[str] = set()
    for job in ordered:
        if job.runs < min_runs:
            too_few.append(job)
            continue
        stable = sorted(
            (c for c in job.candidates if meets(c.confirmed, job.runs, min_ratio)),
            key=lambda c: (not c.signature.is_effect, -c.confirmed, c.signature.label),
        )
        if not stable:
            unstable.append(job)
            continue
        effects = any(c.signature.is_effect for c in stable)
        for candidate in stable:
            rule_id = unique(rule_id_for(job, candidate.signature), taken)
            active = candidate.signature.is_effect or not effects
            suggestions.append(Suggestion(rule_id, job, candidate, active))
    return Proposal(
        tuple(suggestions),
        tuple(too_few),
        tuple(unstable),
        min_runs,
        min_ratio,
        tuple(inputs),
        jobs=len(ordered),
        runs=sum(j.runs for j in ordered),
    )


# ---------------------------------------------------------------------- names


def slug(text: str) -> str:
    """``text`` in the characters of a rule id: lowercase, other characters become '-'."""
    out = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return out or "x"


def rule_id_for(job: JobStats, signature: Signature) -> str:
    return f"{slug(job.system)}.{slug(job.job_name)}.{signature.slug}"


def unique(rule_id: str, taken: set[str]) -> str:
    candidate, n = rule_id, 1
    while candidate in taken:
        n += 1
        candidate = f"{rule_id}-{n}"
    taken.add(candidate)
    return candidate


def glob_literal(text: str) -> str:
    """A glob matching exactly ``text`` (job and effect names are globs in rule files)."""
    if not is_glob(text):
        return text
    return re.sub(r"([*?\[])", r"[\1]", text)


# ---------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_./@ -]*[A-Za-z0-9_./@-])?")


def scalar(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string: plain when it safely
    can be, else double-quoted (JSON's escapes are YAML's)."""
    if _PLAIN.fullmatch(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{scalar(k)}: {scalar(str(v))}" for k, v in mapping.items()) + "}"


def _rule_lines(rule: dict[str, Any]) -> list[str]:
    lines = [f"- id: {scalar(rule['id'])}"]
    lines += [f"  title: {scalar(rule['title'])}", f"  severity: {rule['severity']}"]
    lines.append(f"  jobs: {_flow(rule['jobs'])}")
    lines.append("  expect:")
    for key, value in rule["expect"].items():
        if key != "span":
            lines.append(f"    {key}: {scalar(value)}")
            continue
        lines.append("    span:")
        for skey, svalue in value.items():
            text = _flow(svalue) if isinstance(svalue, dict) else scalar(svalue)
            lines.append(f"      {skey}: {text}")
    return lines


def _comment(text: str) -> str:
    """A comment line's text: no line breaks or other control characters from span data."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _percent(part: int, whole: int) -> str:
    return f"{part * 100 // whole if whole else 0}%"


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def _example(e: Example) -> str:
    return f"trace {e.trace_id}" + (f" (job {e.job_id})" if e.job_id else "")


def _evidence(s: Suggestion) -> list[str]:
    job, c = s.job, s.candidate
    sig = c.signature
    had = "confirmed" if sig.is_effect else "had"
    lines = [
        f"{job.system} {job.job_name}: {c.confirmed} of {_runs(job.runs)} marked done "
        f"({_percent(c.confirmed, job.runs)}) {had} {sig.label}"
    ]
    if c.confirmed_examples:
        lines.append("  e.g.")
        lines += [f"    {_example(e)}" for e in c.confirmed_examples]
    if c.missing:
        failed = f", {c.failed} of them with a failed one" if c.failed else ""
        lines.append(f"  {_runs(c.missing)} did not{failed}; the rule flags them:")
        lines += [f"    {_example(e)}" for e in c.missing_examples]
        if c.missing > len(c.missing_examples):
            lines.append(f"    and {c.missing - len(c.missing_examples)} more")
    return lines


def _header(p: Proposal) -> list[str]:
    inputs = ", ".join(p.inputs) or "the input"
    ratio = _percent_ratio(p.min_ratio)
    paragraphs = [
        f"Rules suggested by `audit rules suggest` from {inputs} ({_jobs(p.jobs)}, "
        f"{_runs(p.runs)} marked done). They say what the traffic usually did, not what the "
        "jobs must do: review each rule (keep, change or delete it) before you commit this "
        "file.",
        f"A job with at least {_runs(p.min_runs)} marked done (--min-runs) gets a rule for "
        f"each effect that at least {ratio} of them confirmed (--min-ratio): a "
        "side_effect.confirm span in the run's trace, or naming the run's job.id, as "
        "`correlate: trace` matches them. With no such effect, a client span found under "
        "that share of its runs is expected instead: an SMTP span, an HTTP write to one host, "
        "an INSERT into one table. The runs listed as not having it are what the rule flags "
        "in this traffic: check that they are lies. The rules also check before_done and "
        "at_most_once.",
    ]
    lines: list[str] = []
    for paragraph in paragraphs:
        if lines:
            lines.append("")
        lines += textwrap.wrap(paragraph, WIDTH, break_long_words=False, break_on_hyphens=False)
    return lines


def _percent_ratio(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _skipped(p: Proposal) -> list[str]:
    lines: list[str] = []
    if p.too_few:
        lines.append(f"too few runs (fewer than {p.min_runs} marked done; --min-runs):")
        lines += [f"  {_skipped_job(job)}" for job in p.too_few]
    if p.unstable:
        lines.append(
            f"no stable effect (none in at least {_percent_ratio(p.min_ratio)} of the runs "
            "marked done; --min-ratio):"
        )
        lines += [f"  {_skipped_job(job)}" for job in p.unstable]
    return lines


def _skipped_job(job: JobStats) -> str:
    text = f"{job.system} {job.job_name}: {_runs(job.runs)} marked done"
    best = job.best
    if best is None:
        return text + "; no effect and no candidate span under them"
    return (
        f"{text}; the most frequent: {best.signature.label}, in {best.confirmed} "
        f"({_percent(best.confirmed, job.runs)})"
    )


def render(proposal: Proposal) -> str:
    """The rule file: a header, each rule under its evidence (alternatives commented out),
    and the jobs that got no rule, with why."""
    out = [f"# {_comment(line)}".rstrip() for line in _header(proposal)]
    active = [s for s in proposal.suggestions if s.active]
    out.append("rules:" if active else "rules: []")
    for s in proposal.suggestions:
        out.append("")
        if not s.active:
            label = _comment(s.candidate.signature.label)
            out.append(f"  # An alternative: to expect {label} instead, or as well, uncomment:")
        out += [f"  # {_comment(line)}" for line in _evidence(s)]
        prefix = "  " if s.active else "  # "
        out += [prefix + line for line in _rule_lines(s.rule())]
    skipped = _skipped(proposal)
    if skipped:
        out += ["", "# No rule for these jobs:"]
        out += [f"# {_comment(line)}" for line in skipped]
    return "\n".join(out) + "\n"
