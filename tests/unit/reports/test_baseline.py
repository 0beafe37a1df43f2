"""Baseline files: written sorted and stable, read strictly, applied by a run-independent
identity (rule, kind, system, job name, effect name and key) with a count."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from auditor.errors import ExitCode, UsageError
from auditor.findings.baseline import (
    IDENTITY,
    Baseline,
    apply_baseline,
    read_baseline,
    write_baseline,
)
from auditor.findings.table import FindingTable
from tests.unit.reports.sample import FINDINGS


def _identity(f: object) -> tuple[str, ...]:
    return tuple(str(getattr(f, k)) for k in IDENTITY)


def test_a_written_baseline_reads_back_as_the_findings_identities_with_counts() -> None:
    doubled = [*FINDINGS, replace(FINDINGS[1], job_id="another-run-id")]
    baseline = read_baseline(write_baseline(doubled), "b.json")
    expected: dict[tuple[str, ...], int] = {}
    for f in doubled:
        expected[_identity(f)] = expected.get(_identity(f), 0) + 1
    assert baseline.identities == expected
    assert baseline.identities[_identity(FINDINGS[1])] == 2


def test_a_written_baseline_is_sorted_and_independent_of_finding_order() -> None:
    text = write_baseline(FINDINGS)
    assert text == write_baseline(reversed(FINDINGS))
    entries = json.loads(text)["findings"]
    keys = [tuple(e[k] for k in IDENTITY) for e in entries]
    assert keys == sorted(keys)
    assert set(entries[0]) == {*IDENTITY, "count"}
    assert "job_id" not in text  # a job id is new on every run: never part of the identity


def test_the_same_lie_with_new_job_ids_is_still_accepted() -> None:
    baseline = read_baseline(write_baseline(FINDINGS), "b.json")
    rerun = FindingTable.of(
        [replace(f, job_id=f"new-{i}", trace_id="", fingerprint="") for i, f in enumerate(FINDINGS)]
    )
    kept, suppressed = apply_baseline(rerun, baseline)
    assert (len(kept), suppressed) == (0, len(FINDINGS))


def test_more_findings_of_an_identity_than_the_baseline_counts_are_reported() -> None:
    baseline = read_baseline(write_baseline(FINDINGS), "b.json")
    extra = replace(FINDINGS[1], job_id="one-more", fingerprint="")
    kept, suppressed = apply_baseline(FindingTable.of([*FINDINGS, extra]), baseline)
    assert suppressed == len(FINDINGS)
    assert [_identity(f) for f in kept] == [_identity(extra)]


def test_an_empty_baseline_accepts_nothing() -> None:
    baseline = read_baseline(write_baseline([]), "b.json")
    assert not baseline
    kept, suppressed = apply_baseline(FindingTable.of(FINDINGS), baseline)
    assert (len(kept), suppressed) == (len(FINDINGS), 0)


def test_a_version_1_baseline_still_accepts_by_fingerprint() -> None:
    text = json.dumps(
        {"version": 1, "fingerprints": [FINDINGS[0].fingerprint, {"fingerprint": "def"}]}
    )
    baseline = read_baseline(text, "b.json")
    assert baseline == Baseline(fingerprints=frozenset({FINDINGS[0].fingerprint, "def"}))
    kept, suppressed = apply_baseline(FindingTable.of(FINDINGS), baseline)
    assert suppressed == 1
    assert FINDINGS[0].fingerprint not in {f.fingerprint for f in kept}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 2,',
            "b.json:1:15: baseline is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[]", "b.json: a baseline is a JSON object with 'version' and 'findings', got a list"),
        ('{"findings": []}', "b.json: invalid baseline: missing 'version' (expected 2)"),
        (
            '{"version": 3, "findings": []}',
            "b.json: invalid baseline: unsupported version 3; this auditor reads versions 1 and 2",
        ),
        (
            '{"version": 2, "findings": {}}',
            "b.json: invalid baseline: 'findings' must be a list, got an object",
        ),
        (
            '{"version": 2, "finding": []}',
            "b.json: invalid baseline: unknown key 'finding' (did you mean 'findings'?); "
            "missing 'findings' (a list; it may be empty)",
        ),
        (
            '{"version": 2, "findings": [{"kind": "lost_job"}, 3, {"rule_id": "r", "kind": 5,'
            ' "count": 0}]}',
            "b.json: invalid baseline: findings[0]: missing 'rule_id'; "
            "findings[1]: expected an object, got a number; "
            "findings[2]: 'kind' must be a string, got a number; "
            "findings[2]: 'count' must be a whole number of at least 1, got 0",
        ),
        (
            '{"version": 2, "findings": [{"rule_id": "r", "kind": "k", "jobname": "j"}]}',
            "b.json: invalid baseline: findings[0]: unknown key 'jobname' (did you mean 'job_name'?)",
        ),
        (
            '{"version": 1, "fingerprints": [{"rule_id": "r"}, 3]}',
            "b.json: invalid baseline: fingerprints[0]: missing 'fingerprint'; "
            "fingerprints[1]: expected an object or a fingerprint string, got a number",
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-version",
        "future-version",
        "findings-not-a-list",
        "misspelt-key",
        "bad-entries",
        "unknown-entry-key",
        "bad-version-1-entries",
    ],
)
def test_a_malformed_baseline_is_a_usage_error_that_says_what_is_wrong(
    text: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        read_baseline(text, "b.json")
    assert str(caught.value) == message
    assert caught.value.exit_code is ExitCode.USAGE


def test_a_baseline_with_many_problems_lists_a_few_and_counts_the_rest() -> None:
    text = json.dumps({"version": 2, "findings": [1] * 8})
    with pytest.raises(UsageError, match=r"; and 3 more$"):
        read_baseline(text, "b.json")
