"""System profiles written in rule files: broken ones are reported where they are broken,
new ones add a job system, and one with a built-in's id replaces the built-in.

Fixtures: ``tests/data/fixtures/profiles/`` (one ``bad_*.yaml`` per defect, ``jobsy.yaml``, a
made-up system with its rules, and ``celery_replaced.yaml``).
"""

from __future__ import annotations

import pytest

from auditor.cli.main import main
from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.errors import RuleError
from tests.unit.engine.scanning import FIXTURES, capture, derived, store_with_spans

PROFILES = FIXTURES / "profiles"

BAD = [
    ("bad_run_kind.yaml", 4, 23, "'worker'"),
    ("bad_run_without_job_id.yaml", 4, 9, "missing 'job_id'"),
    ("bad_unknown_key.yaml", 6, 9, "unknown key 'jobname'"),
    ("bad_outcome.yaml", 7, 18, "must be one of done, failed, retry, not 'succeeded'"),
    ("bad_profile_id.yaml", 2, 9, "'Jobsy System' must match"),
    ("bad_value_two_sources.yaml", 5, 17, "job_id"),
    ("bad_cond_key.yaml", 6, 42, "must be a string"),
]


@pytest.mark.parametrize(("name", "line", "col", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_broken_profile_is_reported_at_its_file_line_and_column(
    name: str, line: int, col: int, says: str
) -> None:
    path = PROFILES / name

    with pytest.raises(RuleError) as raised:
        load_catalog([path], packs=False)

    (problem,) = raised.value.problems
    assert problem.startswith(f"{path}:{line}:{col}: "), problem
    assert says in problem


def test_a_broken_profile_fails_rules_lint_with_exit_2_and_the_location_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = PROFILES / "bad_unknown_key.yaml"

    code = main(["rules", "lint", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:6:9: unknown key 'jobname'" in err
    assert "did you mean 'job_name'?" in err


# ------------------------------------------------------------------------------ a new system

_JOBSY = {"jobsy.task": "invoice.send"}


def _jobsy_spans() -> list[dict]:
    """j1 confirmed, j2 marked done without its invoice, j3 enqueued and never run, j4
    retried then done and confirmed, j5 failed visibly."""
    spans: list[dict] = []
    for n, job in enumerate(("j1", "j2", "j3", "j4", "j5")):
        spans.append({"trace": job, "span": f"{job}-enq", "name": "jobsy.enqueue",
                      "kind": "producer", "start": f"{n}s",
                      "attributes": {**_JOBSY, "jobsy.job.id": job, "jobsy.queue": "billing"}})  # fmt: skip

    def run(job: str, span: str, attempt: int, state: str, start: int, *, confirm: bool) -> None:
        spans.append({"trace": job, "span": span, "parent": f"{job}-enq",
                      "name": "jobsy.run invoice.send", "kind": "consumer",
                      "start": f"{start}ms", "end": f"{start + 40}ms",
                      "attributes": {**_JOBSY, "jobsy.job.id": job, "jobsy.state": state,
                                     "jobsy.attempt": attempt},
                      "events": [{"name": "jobsy.finished", "at": f"{start + 35}ms"}]})  # fmt: skip
        if confirm:
            spans.append({"trace": job, "span": f"{span}-ok", "parent": span,
                          "name": "side_effect.confirm", "start": f"{start + 20}ms",
                          "attributes": {"side_effect.name": "invoice.sent",
                                         "side_effect.key": f"INV-{job}", "job.id": job}})  # fmt: skip

    run("j1", "j1-run", 1, "ok", 100, confirm=True)
    run("j2", "j2-run", 1, "ok", 200, confirm=False)
    run("j4", "j4-run1", 1, "retry", 400, confirm=False)
    run("j4", "j4-run2", 2, "ok", 1400, confirm=True)
    run("j5", "j5-run", 1, "error", 500, confirm=False)
    return spans


def test_a_profile_in_a_rule_file_adds_a_job_system_whose_spans_become_runs_and_enqueues() -> None:
    catalog = load_catalog([PROFILES / "jobsy.yaml"], packs=False)
    with store_with_spans(_jobsy_spans()) as store:
        tables = derived(store, catalog.profiles)

    runs = {(r["job_id"], r["attempt"]): r for r in tables["job_runs"]}
    assert set(runs) == {("j1", 1), ("j2", 1), ("j4", 1), ("j4", 2), ("j5", 1)}
    assert {r["system"] for r in runs.values()} == {"jobsy"}
    assert {r["job_name"] for r in runs.values()} == {"invoice.send"}
    assert {r["queue"] for r in runs.values()} == {"default"}  # runs carry no jobsy.queue
    assert [runs[k]["outcome"] for k in sorted(runs)] == ["done", "done", "retry", "done", "failed"]
    assert runs[("j1", 1)]["done_ns"] - runs[("j1", 1)]["start_ns"] == 35_000_000
    assert sorted(q["job_id"] for q in tables["enqueues"]) == ["j1", "j2", "j3", "j4", "j5"]
    assert {q["queue"] for q in tables["enqueues"]} == {"billing"}


def test_rules_for_a_system_added_by_a_rule_file_find_its_lies() -> None:
    catalog = load_catalog([PROFILES / "jobsy.yaml"], packs=False)
    with store_with_spans(_jobsy_spans()) as store:
        findings = evaluate(store.con, catalog, evidence=False).findings

    assert {(f.rule_id, f.kind, f.job_id) for f in findings} == {
        ("jobsy-invoices-sent", "unconfirmed_done", "j2"),
        ("jobsy-jobs-run", "lost_job", "j3"),
    }
    assert {f.system for f in findings} == {"jobsy"}


# ------------------------------------------------------------------ replacing a built-in


def test_a_user_profile_with_a_built_in_id_replaces_the_built_in_profile() -> None:
    path = PROFILES / "celery_replaced.yaml"
    catalog = load_catalog([path], packs=False)

    (celery,) = [p for p in catalog.profiles if p.id == "celery"]
    assert celery.source == str(path)
    assert celery.priority == 20
    with store_with_spans(files=[capture("celery")]) as store:
        tables = derived(store, catalog.profiles)

    assert len(tables["job_runs"]) == 12  # the same run spans as the built-in finds
    assert {r["queue"] for r in tables["job_runs"]} == {"replaced-by-user"}
    assert {q["queue"] for q in tables["enqueues"]} == {"replaced-by-user"}
    # the built-in's signal shape is gone with it: the acks_late redelivery is not flagged
    assert {r["signals"] for r in tables["job_runs"]} == {""}


# ------------------------------------------------------------- conditions on nearby spans


def _nested_spans() -> list[dict]:
    """Runs r1..r6, each with the children (and grandchildren) its id says."""
    family = {
        "r1": [("nested.fail", [])],  # failed, will be retried
        "r2": [("nested.fail", ["nested.gaveup"])],  # failed for good
        "r3": [("nested.ok", [])],
        "r4": [("nested.fine", ["nested.check"])],
        "r5": [("nested.fine", [])],  # a fine child without its check proves nothing
        "r6": [("other", ["nested.check"])],
    }
    spans: list[dict] = []
    for run, children in family.items():
        spans.append({"trace": run, "span": run, "name": "nested.run", "kind": "consumer",
                      "start": "0ms", "end": "10ms", "attributes": {"nested.id": run}})  # fmt: skip
        for n, (child, grandchildren) in enumerate(children):
            spans.append({"trace": run, "span": f"{run}-c{n}", "parent": run, "name": child,
                          "start": "1ms", "end": "2ms"})  # fmt: skip
            for m, grandchild in enumerate(grandchildren):
                spans.append({"trace": run, "span": f"{run}-c{n}-g{m}", "parent": f"{run}-c{n}",
                              "name": grandchild, "start": "1ms", "end": "2ms"})  # fmt: skip
    return spans


def test_outcomes_that_test_grandchildren_under_not_and_any_are_exact() -> None:
    catalog = load_catalog([PROFILES / "nested.yaml"], packs=False)
    with store_with_spans(_nested_spans()) as store:
        tables = derived(store, catalog.profiles)

    outcomes = {r["job_id"]: r["outcome"] for r in tables["job_runs"]}
    assert outcomes == {
        "r1": "retry", "r2": "failed", "r3": "done", "r4": "done",
        "r5": "unknown", "r6": "unknown",
    }  # fmt: skip


def test_the_nearby_spans_are_narrowed_by_the_loosest_form_of_each_condition() -> None:
    from auditor.profiles.compiler import loosest
    from auditor.profiles.model import Cond

    fail = Cond(name=("nested.fail",))
    # a test on other spans is dropped, under `not` too: what is left holds for more spans
    assert loosest(Cond(name=("a",), child=fail)) == Cond(name=("a",))
    assert loosest(Cond(name=("a",), not_=Cond(child=fail))) == Cond(name=("a",))
    assert loosest(Cond(name=("a",), not_=Cond(kind=("Producer",)))) == Cond(
        name=("a",), not_=Cond(kind=("Producer",))
    )
    # `any` keeps its options, loosened; one that tests only other spans allows every span
    assert loosest(Cond(any=(Cond(name=("x",), parent=fail), Cond(name=("y",))))) == Cond(
        any=(Cond(name=("x",)), Cond(name=("y",)))
    )
    assert loosest(Cond(any=(Cond(parent=fail), Cond(name=("y",))))) == Cond()
