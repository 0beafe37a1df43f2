"""Baseline files: written sorted and stable, read strictly, applied by fingerprint."""

from __future__ import annotations

import json

import pytest

from auditor.errors import ExitCode, InputError
from auditor.findings.baseline import read_baseline, write_baseline
from auditor.findings.table import FindingTable
from tests.unit.reports.sample import FINDINGS


def test_a_written_baseline_reads_back_as_the_findings_fingerprints() -> None:
    text = write_baseline(FINDINGS)
    assert read_baseline(text, "b.json") == frozenset(f.fingerprint for f in FINDINGS)


def test_a_written_baseline_is_sorted_and_independent_of_finding_order() -> None:
    text = write_baseline(FINDINGS)
    assert text == write_baseline(reversed(FINDINGS))
    document = json.loads(text)
    assert document["version"] == 1
    fps = [e["fingerprint"] for e in document["fingerprints"]]
    assert fps == sorted(fps)
    assert set(document["fingerprints"][0]) == {
        "fingerprint",
        "rule_id",
        "kind",
        "job_id",
        "effect_key",
    }
    assert text.endswith("\n")


def test_a_finding_seen_twice_is_one_entry() -> None:
    document = json.loads(write_baseline([FINDINGS[0], FINDINGS[0]]))
    assert len(document["fingerprints"]) == 1


def test_applying_a_baseline_keeps_new_findings_and_counts_the_accepted() -> None:
    accepted = frozenset({FINDINGS[0].fingerprint, FINDINGS[2].fingerprint, "gone"})
    kept, suppressed = FindingTable.of(FINDINGS).without(accepted)
    assert suppressed == 2
    assert sorted(f.fingerprint for f in kept) == sorted(
        f.fingerprint for i, f in enumerate(FINDINGS) if i not in (0, 2)
    )


def test_an_empty_baseline_accepts_nothing() -> None:
    accepted = read_baseline(write_baseline([]), "b.json")
    assert accepted == frozenset()
    kept, suppressed = FindingTable.of(FINDINGS).without(accepted)
    assert (len(kept), suppressed) == (len(FINDINGS), 0)


def test_bare_fingerprint_strings_are_accepted_for_hand_written_baselines() -> None:
    text = '{"version": 1, "fingerprints": ["abc", {"fingerprint": "def"}]}'
    assert read_baseline(text, "b.json") == frozenset({"abc", "def"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 1,',
            "b.json:1:15: baseline is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[]", "b.json: a baseline is a JSON object with 'version' and 'fingerprints', got a list"),
        ('{"fingerprints": []}', "b.json: invalid baseline: missing 'version' (expected 1)"),
        (
            '{"version": 2, "fingerprints": []}',
            "b.json: invalid baseline: unsupported version 2; this auditor reads version 1",
        ),
        (
            '{"version": 1, "fingerprints": {}}',
            "b.json: invalid baseline: 'fingerprints' must be a list, got an object",
        ),
        (
            '{"version": 1, "fingerprint": []}',
            "b.json: invalid baseline: unknown key 'fingerprint' (did you mean 'fingerprints'?); "
            "missing 'fingerprints' (a list; it may be empty)",
        ),
        (
            '{"version": 1, "fingerprints": [{"rule_id": "r"}, 3, {"fingerprint": 5}]}',
            "b.json: invalid baseline: fingerprints[0]: missing 'fingerprint'; "
            "fingerprints[1]: expected an object with a 'fingerprint', got a number; "
            "fingerprints[2]: 'fingerprint' must be a non-empty string, got a number",
        ),
        (
            '{"version": 1, "fingerprints": [{"fingerprint": "a", "rule": "r"}]}',
            "b.json: invalid baseline: fingerprints[0]: unknown key 'rule' (did you mean 'rule_id'?)",
        ),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-version",
        "future-version",
        "fingerprints-not-a-list",
        "misspelt-key",
        "bad-entries",
        "unknown-entry-key",
    ],
)
def test_a_malformed_baseline_is_an_input_error_that_says_what_is_wrong(
    text: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        read_baseline(text, "b.json")
    assert str(caught.value) == message
    assert caught.value.exit_code is ExitCode.INPUT


def test_a_baseline_with_many_problems_lists_a_few_and_counts_the_rest() -> None:
    text = json.dumps({"version": 1, "fingerprints": [1] * 8})
    with pytest.raises(InputError, match=r"; and 3 more$"):
        read_baseline(text, "b.json")
