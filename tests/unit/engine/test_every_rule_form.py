"""Every form a rule file may take, run by the engine on the real captures, finds exactly the
lies it must: each check, each correlation, ``where:`` on jobs (the run's columns, its span's,
both) and on span selectors, span selectors, ``key:`` maps, declared effects,
``complete_within``, ``jobs.attributes``, ``jobs.name`` globs and ``jobs.queue``.

Each form is a rule over one capture (``tests/data/captures/<system>/``). What it must find is
derived from the capture's ``ground_truth.json`` (which job lies, how, with which key) and
the semantics docs/design.md gives the form, never from the compiler: a check subset keeps the
kinds of its checks, a selector keeps the jobs it names, a ``where:`` or a selector that
rejects a confirmation makes its job unconfirmed. Every rule runs through
``auditor.engine.evaluate`` twice: alone, and in one evaluation with every other form and the
built-in packs (rules sharing an effects table, pack findings dropped for a user rule's),
and both must give the same, exact findings: (rule, kind, job id, and the key of a
duplicate).

``test_every_key_of_the_rule_schema_is_exercised`` walks the rule file's JSON Schema, so a
key or an enum value added there without a form here fails.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.evaluate import Evaluation, evaluate
from auditor.profiles.schema import profile_schema
from auditor.rules.model import Rule
from auditor.rules.schema import rule_file_schema
from auditor.store.duck import DuckStore
from tests.unit.engine.scanning import (
    CAPTURES,
    DATA,
    SYSTEMS,
    capture,
    derived,
    ground_truth_entries,
    store_with_spans,
)

Subject = tuple[str, str, str, str]  # (rule id, kind, job id, key of a duplicate or "")
Entry = Mapping[str, Any]  # one job of a capture's ground_truth.json

PER_RUN = {  # check -> the kind it raises
    "confirmed": "unconfirmed_done",
    "before_done": "premature_done",
    "at_most_once": "duplicate_effect",
    "effect_ok": "failed_effect",
}
ALL_FOUR = list(PER_RUN)


@dataclass(frozen=True)
class Shop:
    """What differs between the three captures' shops."""

    name_glob: str  # matches the shop's job name
    queue: str
    job_id_attribute: str  # the run and enqueue spans' attribute holding the job id


SHOPS = {
    "celery": Shop("shop.send_*", "emails-96957b", "messaging.message.id"),
    "rq": Shop("*.send_order_confirmation", "emails-bb3611", "rq.job.id"),
    "bullmq": Shop("send-order-*", "emails-1579a3", "bullmq.job.id"),
}


@cache
def entries(system: str) -> tuple[Entry, ...]:
    return tuple(ground_truth_entries(CAPTURES / system / "ground_truth.json"))


def _job(system: str, scenario: str) -> Entry:
    return next(e for e in entries(system) if e["scenario"] == scenario)


@dataclass(frozen=True)
class Expect:
    """What a rule of one capture must find, from the ground truth."""

    checks: tuple[str, ...] = tuple(ALL_FOUR)
    lost: bool = False  # the rule has complete_within
    keep: Callable[[Entry], bool] = lambda _: True  # the jobs its selector judges
    # runs confirmed only through effects in their own trace (correlate: link, and the
    # captures hold no span link)
    own_trace_only: bool = False
    unconfirmed: Callable[[Entry], bool] = lambda _: False  # a selector rejects its proof
    premature: bool = True  # the tolerance is below the captures' premature gaps

    def subjects(self, rule_id: str, system: str, detached: frozenset[str]) -> set[Subject]:
        """``detached``: the jobs whose confirmation sits in a trace of its own."""
        kinds = {PER_RUN[c] for c in self.checks}
        found: set[Subject] = set()
        for entry in entries(system):
            if not self.keep(entry):
                continue
            kind = entry["expected_kind"]
            if kind == "lost_job":
                if self.lost:
                    found.add((rule_id, kind, entry["job_id"], ""))
                continue
            if self.unconfirmed(entry) and entry["final_state"] == "done":
                kind = "unconfirmed_done"
            elif kind == "premature_done" and self.own_trace_only:
                kind = "unconfirmed_done" if entry["job_id"] in detached else kind
            elif kind == "premature_done" and not self.premature:
                kind = None
            if kind == "failed_effect" and kind not in kinds and "confirmed" in self.checks:
                kind = "unconfirmed_done"  # without effect_ok a swallowed failure is unconfirmed
            if kind in kinds:
                key = entry["effect_key"] if kind == "duplicate_effect" else ""
                found.add((rule_id, kind, entry["job_id"], key))
        return found


@dataclass(frozen=True)
class Form:
    id: str
    system: str
    rule: dict[str, Any]  # the rule's keys but id and severity, as written in a rule file
    expect: Expect = field(default_factory=Expect)


def _effect(**more: Any) -> dict[str, Any]:
    return {"effect": "email.sent", **more}


SMTP_SPAN = {"name": "smtp.send", "kind": "client", "status": "ok"}
CONFIRM_SPAN = {
    "name": "side_effect.con*",
    "kind": "internal",
    "status": "unset",
    "attributes": {"side_effect.name": "email.sent"},
}


def _forms(system: str) -> Iterator[Form]:
    shop = SHOPS[system]
    jobs = {"system": system}
    duplicate, skipped = _job(system, "retry_duplicate"), _job(system, "skipped")

    def form(name: str, rule: dict[str, Any], **expect: Any) -> Form:
        return Form(f"{system}-{name}", system, rule, Expect(**expect))

    for check in ALL_FOUR:  # each check alone, then the pair a swallowed failure needs
        yield form(
            f"only-{check}", {"jobs": jobs, "expect": _effect(), "checks": [check]}, checks=(check,)
        )
    yield form(
        "confirmed-and-effect-ok",
        {"jobs": jobs, "expect": _effect(), "checks": ["confirmed", "effect_ok"]},
        checks=("confirmed", "effect_ok"),
    )
    yield form("complete-within", {"jobs": jobs, "complete_within": "15m"}, checks=(), lost=True)

    # each correlation, with every check and complete_within
    for correlate in ("trace", "link", "key"):
        yield form(
            f"by-{correlate}",
            {
                "jobs": jobs,
                "expect": _effect(correlate=correlate, within="5m"),
                "complete_within": "1h",
            },
            lost=True,
            own_trace_only=correlate == "link",
        )
        yield form(
            f"span-by-{correlate}",
            {"jobs": jobs, "expect": {"span": SMTP_SPAN, "correlate": correlate}},
            own_trace_only=correlate == "link",
        )

    # key maps: the default, explicit normalized names, a job attribute that is no column
    keys = {
        "key-normalized": {"job": "job.id", "effect": "job.id"},
        "key-job-column": {"job": "job_id", "effect": "job.id"},
        "key-job-attribute": {"job": shop.job_id_attribute, "effect": "job.id"},
    }
    for name, key in keys.items():
        yield form(name, {"jobs": jobs, "expect": _effect(correlate="key", key=key)})
    yield form(
        "span-key",
        {
            "jobs": jobs,
            "expect": {"span": CONFIRM_SPAN, "correlate": "key", "key": keys["key-normalized"]},
        },
    )

    # span selectors: the confirm span spelled out; a where rejecting the first job's proof;
    # only failed SMTP spans as proof
    yield form("span-confirm", {"jobs": jobs, "expect": {"span": CONFIRM_SPAN}})
    first = _job(system, "ok")["effect_key"]
    yield form(
        "span-where",
        {
            "jobs": jobs,
            "expect": {
                "span": {
                    **CONFIRM_SPAN,
                    "where": f"NOT contains(SpanAttributes, '\"{first}\"') AND Duration >= 0",
                }
            },
        },
        unconfirmed=lambda e: e["effect_key"] == first,
    )
    yield form(
        "span-error",
        {
            "jobs": jobs,
            "expect": {"span": {"name": "smtp.*", "status": "error"}},
            "checks": ["effect_ok"],
        },
        checks=("effect_ok",),
    )
    yield form("tolerance", {"jobs": jobs, "expect": _effect(tolerance="1h")}, premature=False)

    # job selectors: name globs, queue, attributes (columns and not), where
    yield form(
        "name-glob",
        {"jobs": {**jobs, "name": shop.name_glob}, "complete_within": "1h", "expect": _effect()},
        lost=True,
    )
    yield form(
        "name-no-match",
        {"jobs": {**jobs, "name": "*.nothing_?"}, "complete_within": "1h", "expect": _effect()},
        keep=lambda _: False,
    )
    yield form(
        "queue",
        {"jobs": {"queue": shop.queue}, "expect": _effect(), "complete_within": "1h"},
        lost=True,
    )
    yield form(
        "attributes",
        {
            "jobs": {
                **jobs,
                "attributes": {"queue": shop.queue, shop.job_id_attribute: duplicate["job_id"]},
            },
            "expect": _effect(),
            "complete_within": "1h",
        },
        lost=True,
        keep=lambda e: e["job_id"] == duplicate["job_id"],
    )
    yield form(
        "attributes-job-id",
        {"jobs": {**jobs, "attributes": {"job.id": skipped["job_id"]}}, "expect": _effect()},
        keep=lambda e: e["job_id"] == skipped["job_id"],
    )
    wheres = {
        "where-run": "job_id >= '5' AND queue LIKE 'emails-%'",
        "where-span": f"json_extract_string(SpanAttributes, '$.\"{shop.job_id_attribute}\"') >= '5'",
        "where-both": "job_id >= '5' AND ServiceName LIKE 'shop-%' AND Duration > 0",
    }
    for name, where in wheres.items():
        for correlate in ("trace", "link", "key"):
            yield form(
                f"{name}-{correlate}",
                {
                    "jobs": {**jobs, "where": where},
                    "complete_within": "1h",
                    "expect": _effect(correlate=correlate),
                },
                lost=True,
                keep=lambda e: e["job_id"] >= "5",
                own_trace_only=correlate == "link",
            )


FORMS = [f for system in SYSTEMS for f in _forms(system)]


def _rule_file(forms: list[Form]) -> dict[str, Any]:
    return {"rules": [{"id": f.id, "severity": "high", **f.rule} for f in forms]}


@dataclass(frozen=True)
class Run:
    alone: dict[str, set[Subject]]  # rule id -> what it found evaluated alone
    batched: dict[str, set[Subject]]  # … evaluated with every form and the packs
    detached: dict[str, frozenset[str]]  # system -> jobs confirmed in a trace of their own


def _subjects(evaluation: Evaluation) -> dict[str, set[Subject]]:
    out: dict[str, set[Subject]] = {}
    for f in evaluation.findings:
        key = f.effect_key if f.kind == "duplicate_effect" else ""
        out.setdefault(f.rule_id, set()).add((f.rule_id, str(f.kind), f.job_id, key))
    return out


def _detached(store: DuckStore, catalog: Catalog) -> dict[str, frozenset[str]]:
    """Per system, the jobs none of whose confirmations is in the trace of one of its runs."""
    tables = derived(store, catalog.profiles)
    out: dict[str, frozenset[str]] = {}
    for system in SYSTEMS:
        runs = {(r["job_id"], r["trace_id"]) for r in tables["job_runs"] if r["system"] == system}
        confirmed = {e["job_id"] for e in tables["effects"] if e["system"] == system}
        out[system] = frozenset(
            job
            for job in confirmed
            if not any(
                (job, e["trace_id"]) in runs for e in tables["effects"] if e["job_id"] == job
            )
        )
    return out


def _evaluate(
    store: DuckStore, rule_file: dict[str, Any], packs: bool
) -> tuple[Catalog, dict[str, set[Subject]], Evaluation]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "forms.yaml"
        path.write_text(yaml.safe_dump(rule_file, sort_keys=False), encoding="utf-8")
        catalog = load_catalog([path], packs=packs)
    evaluation = evaluate(store.con, catalog, evidence=False)
    return catalog, _subjects(evaluation), evaluation


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with store_with_spans(files=[capture(s) for s in SYSTEMS]) as store:
        catalog, batched, _ = _evaluate(store, _rule_file(FORMS), packs=True)
        alone: dict[str, set[Subject]] = {}
        for rule in catalog.rules.rules:
            if not catalog.is_builtin(rule):
                evaluation = evaluate(store.con, catalog, rules=[rule], evidence=False)
                alone[rule.id] = _subjects(evaluation).get(rule.id, set())
        yield Run(alone, batched, _detached(store, catalog))


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_a_rule_form_alone_finds_exactly_the_lies_its_ground_truth_says(
    form: Form, run: Run
) -> None:
    expected = form.expect.subjects(form.id, form.system, run.detached[form.system])

    assert run.alone[form.id] == expected


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.id)
def test_a_rule_form_batched_with_every_form_and_the_packs_finds_the_same(
    form: Form, run: Run
) -> None:
    expected = form.expect.subjects(form.id, form.system, run.detached[form.system])

    assert run.batched.get(form.id, set()) == expected


def test_the_forms_find_lies_of_every_kind_and_some_find_none(run: Run) -> None:
    """The expectations are not vacuous: together they hold every kind, on every system."""
    found = [s for subjects in run.alone.values() for s in subjects]
    kinds = {(rule_id.split("-")[0], kind) for rule_id, kind, _, _ in found}
    assert kinds >= {(system, kind) for system in SYSTEMS for kind in PER_RUN.values()}
    assert ("celery", "lost_job") in kinds
    assert any(not subjects for subjects in run.alone.values())
    # link correlation sees fewer confirmations than trace in the Celery capture: its thread
    # confirms in a trace of its own
    assert run.detached["celery"]


# ------------------------------------------------------------------------- declared effects


def _declaring(system: str, tmp: Path, names: str) -> Path:
    """The capture with ``job.expected_effects`` = ``names`` on every consumer (run) span."""
    out = tmp / f"{system}-declared.jsonl"
    lines = []
    for line in capture(system).read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    if span.get("kind") == 5:  # SPAN_KIND_CONSUMER
                        span.setdefault("attributes", []).append(
                            {"key": "job.expected_effects", "value": {"stringValue": names}}
                        )
        lines.append(json.dumps(request))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


DECLARED = {"celery": "email.sent", "rq": '["email.sent"]', "bullmq": " email.sent "}


@pytest.mark.parametrize("system", SYSTEMS)
def test_declared_effects_find_the_lies_of_runs_declaring_the_captures_effect(
    system: str, tmp_path: Path
) -> None:
    spans = _declaring(system, tmp_path, DECLARED[system])
    rule = {"jobs": {"system": system}, "expect": {"declared": True}}
    with store_with_spans(files=[spans]) as store:
        _, alone, _ = _evaluate(store, _rule_file([Form("declared", system, rule)]), packs=False)
        _, batched, _ = _evaluate(store, _rule_file([Form("declared", system, rule)]), packs=True)

    expected = Expect().subjects("declared", system, frozenset())
    assert expected
    assert alone.get("declared", set()) == expected
    assert batched.get("declared", set()) == expected


def test_declared_effects_judge_no_run_of_a_capture_that_declares_none() -> None:
    rule = {"jobs": {}, "expect": {"declared": True}}
    with store_with_spans(files=[capture(s) for s in SYSTEMS]) as store:
        _, found, evaluation = _evaluate(store, _rule_file([Form("declared", "", rule)]), False)
    assert found == {}
    assert evaluation.jobs_checked == 0


# ------------------------------------------------------------------------- the schema


def _schema_paths(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Every key of a rule (dotted) and every enum value (``key=value``) the schema allows."""
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        yield path
        for value in sub.get("enum", []):
            yield f"{path}={value}"
        for value in sub.get("items", {}).get("enum", []):
            yield f"{path}={value}"
        if isinstance(sub, Mapping) and "properties" in sub:
            yield from _schema_paths(sub, f"{path}.")


def _used_paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            path = f"{prefix}{key}"
            if prefix.endswith("attributes."):
                continue
            yield path
            yield from _used_paths(sub, f"{path}.")
    elif isinstance(value, list):
        for item in value:
            yield f"{prefix[:-1]}={item}"
    elif isinstance(value, str | bool):
        yield f"{prefix[:-1]}={value}".lower()


# Keys that do not change what a scan finds (names, reports, grace of a live evaluation).
NOT_FINDING = {"id", "title", "severity", "labels", "runbook", "description", "enabled"}


def test_every_key_of_the_rule_schema_is_exercised() -> None:
    schema = copy.deepcopy(rule_file_schema(profile_schema()))
    rule = schema["properties"]["rules"]["items"]
    allowed = {
        path
        for path in _schema_paths(_resolved(rule, schema))
        if path.split(".")[0].split("=")[0] not in NOT_FINDING
    }
    used = {path for f in FORMS for path in _used_paths(f.rule)} | {
        "expect.declared",
        "expect.declared=true",
    }
    # enum values a span selector may take that no capture needs: each is a plain equality
    # on SpanKind / StatusCode, the same code path as the values used
    untested = {
        "expect.span.kind=server",
        "expect.span.kind=producer",
        "expect.span.kind=consumer",
    }
    assert allowed - untested <= used, sorted(allowed - untested - used)


def _resolved(node: Any, root: Mapping[str, Any]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it names."""
    if isinstance(node, Mapping):
        if "$ref" in node and str(node["$ref"]).startswith("#/"):
            target: Any = root
            for part in str(node["$ref"])[2:].split("/"):
                target = target[part]
            return _resolved(target, root)
        return {k: _resolved(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(v, root) for v in node]
    return node


# ------------------------------------------------------------------------- good rule files


def _done_jobs(system: str, failed: str = "") -> set[tuple[str, str]]:
    """(kind, job id) of every job of ``system`` with a done run that nothing confirms:
    unconfirmed, or ``failed`` when the run swallowed a failure."""
    return {
        (failed if failed and e["scenario"] == "swallowed" else "unconfirmed_done", e["job_id"])
        for e in entries(system)
        if e["final_state"] == "done"
    }


GOOD_FILES: dict[str, Callable[[], set[tuple[str, str, str]]]] = {
    # tasks.send_* names no job of the Celery shop; its lost job is lost
    "good_design_example.yaml": lambda: {
        ("celery-jobs-complete", "lost_job", _job("celery", "crash")["job_id"]),
    },
    # smtp-reply-250 names no RQ job (mail.*); ledger.row-by-key is disabled; no effect is
    # named payment.captured, so every done run of every system is unconfirmed (or swallowed
    # a failure: an error span in its trace during the run)
    "good_span_selector.yaml": lambda: {
        ("payments_by_order", kind, job)
        for system in SYSTEMS
        for kind, job in _done_jobs(system, failed="failed_effect")
    },
    "folder": lambda: {("folder-a", "lost_job", _job("celery", "crash")["job_id"])},
}


@pytest.mark.parametrize("name", sorted(GOOD_FILES))
@pytest.mark.parametrize("packs", [False, True], ids=["alone", "with-packs"])
def test_a_good_rule_file_runs_and_finds_what_its_rules_select(name: str, packs: bool) -> None:
    catalog = load_catalog([DATA / "rules" / name], packs=packs)
    with store_with_spans(files=[capture(s) for s in SYSTEMS]) as store:
        evaluation = evaluate(store.con, catalog, evidence=False)
    found = {
        (f.rule_id, str(f.kind), f.job_id)
        for f in evaluation.findings
        if not catalog.is_builtin(_rule(catalog, f.rule_id))
    }
    assert found == GOOD_FILES[name]()


def _rule(catalog: Catalog, rule_id: str) -> Rule:
    rule = catalog.rules.get(rule_id)
    assert rule is not None
    return rule


def test_every_good_rule_file_is_run() -> None:
    files = {p.name for p in (DATA / "rules").glob("good_*.yaml")}
    assert files | {"folder"} == set(GOOD_FILES)
