"""The rule file ``audit rules suggest`` writes (``auditor.rules.suggest``), without spans:
whatever the job and effect names, it loads as a rule file, each rule selects exactly the
job it was written for, ids are valid and unique, and every number in a comment is one the
statistics gave."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml

from auditor.rules.loader import load_rule_files
from auditor.rules.schema import RULE_ID_PATTERN
from auditor.rules.suggest import (
    Candidate,
    Example,
    JobStats,
    Signature,
    glob_literal,
    propose,
    render,
    scalar,
)

AWKWARD_NAMES = [
    "shop.send_order_confirmation",
    "Shop::Mailer#deliver",
    "tasks.send_*",
    "a [b] ?c",
    "yes",
    "123",
    "with: colon # and hash",
    'quote " and \\ backslash',
    "line\nbreak",
    "-starts-with-dash",
    "ünïcode",
    "",
]


def _job(name: str, confirmed: int = 9, runs: int = 10, system: str = "celery") -> JobStats:
    candidate = Candidate(
        Signature("effect", name=f"{name or 'x'}.done"),
        runs=runs,
        confirmed=confirmed,
        failed=0,
        stable=True,
        confirmed_examples=(Example("a" * 32, "j1"),),
        missing_examples=(Example("b" * 32, "j2"),),
    )
    return JobStats(system, name, runs, (candidate,))


@pytest.mark.parametrize("text", AWKWARD_NAMES)
def test_a_scalar_reads_back_as_the_same_text(text: str) -> None:
    assert yaml.safe_load(f"key: {scalar(text)}") == {"key": text}


@pytest.mark.parametrize("text", AWKWARD_NAMES)
def test_a_glob_literal_matches_its_text_and_nothing_else(text: str) -> None:
    pattern = glob_literal(text)
    assert fnmatchcase(text, pattern)
    assert not fnmatchcase(text + "x", pattern)


def test_every_name_gives_a_rule_file_that_loads_with_valid_unique_ids(tmp_path: Path) -> None:
    # job runs without a name are not counted (engine.suggest); this one slugs like the first
    names = [*filter(None, AWKWARD_NAMES), "SHOP.SEND_ORDER_CONFIRMATION"]
    jobs = [_job(name) for name in names]
    proposal = propose(jobs, min_runs=5, min_ratio=0.8, inputs=["traces.jsonl"])
    path = tmp_path / "suggested.yaml"
    path.write_text(render(proposal), encoding="utf-8")
    rule_set = load_rule_files([path])
    ids = [rule.id for rule in rule_set.rules]
    assert len(ids) == len(names) == len(set(ids))
    assert all(re.fullmatch(RULE_ID_PATTERN, rule_id) for rule_id in ids)
    for rule in rule_set.rules:
        selected = [n for n in names if fnmatchcase(n, rule.jobs.name or "*")]
        assert len(selected) == 1, (rule.id, rule.jobs.name, selected)
    first = "celery.shop.send_order_confirmation.shop.send_order_confirmation.done"
    assert {first, first + "-2"} <= set(ids)


def test_the_evidence_comments_give_the_counts_and_the_example_runs() -> None:
    text = render(propose([_job("shop.mail", 48, 50)], min_runs=5, min_ratio=0.8))
    assert "# celery shop.mail: 48 of 50 runs marked done (96%) confirmed shop.mail.done" in text
    assert f"trace {'a' * 32} (job j1)" in text
    assert "2 runs did not; the rule flags them:" in text
    assert f"trace {'b' * 32} (job j2)" in text
    assert "and 1 more" in text  # two missing, one example kept


def test_jobs_without_a_rule_are_listed_with_why() -> None:
    jobs = [
        _job("shop.mail", 9, 10),
        _job("shop.rare", 3, 3),
        _job("shop.flaky", 5, 10),
        JobStats("rq", "shop.cleanup", 12, ()),
    ]
    proposal = propose(jobs, min_runs=5, min_ratio=0.8)
    text = render(proposal)
    skipped = text.split("# No rule for these jobs:\n", 1)[1]
    assert skipped.splitlines() == [
        "# too few runs (fewer than 5 marked done; --min-runs):",
        "#   celery shop.rare: 3 runs marked done; the most frequent: shop.rare.done, in 3 (100%)",
        "# no stable effect (none in at least 80% of the runs marked done; --min-ratio):",
        "#   celery shop.flaky: 10 runs marked done; the most frequent: shop.flaky.done, in 5 (50%)",
        "#   rq shop.cleanup: 12 runs marked done; no effect and no candidate span under them",
    ]
    assert proposal.summary() == (
        "1 rule proposed, 2 jobs without a stable effect, 1 job with too few runs "
        "(--min-runs 5); 1 run marked done without the effect would be flagged"
    )


def test_with_no_rule_the_file_is_still_a_rule_file(tmp_path: Path) -> None:
    proposal = propose([JobStats("rq", "shop.cleanup", 12, ())], min_runs=5, min_ratio=0.8)
    assert proposal.summary() == "0 rules proposed, 1 job without a stable effect"
    path = tmp_path / "none.yaml"
    path.write_text(render(proposal))
    assert yaml.safe_load(path.read_text())["rules"] == []
    assert load_rule_files([path]).rules == ()
