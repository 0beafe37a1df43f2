"""Loading files and folders: order, all problems in one pass, ids unique across files."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import RuleError
from auditor.rules.loader import load_rule_files, load_rule_text, load_rule_texts
from auditor.rules.model import Location

DATA = Path(__file__).resolve().parents[2] / "data" / "rules"


@pytest.fixture
def in_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)


def problems(paths: list[str]) -> list[str]:
    with pytest.raises(RuleError) as caught:
        load_rule_files(paths)
    return caught.value.problems


def test_a_folder_contributes_its_yaml_files_recursively_in_sorted_order(in_data: None) -> None:
    rules = load_rule_files(["folder"])

    assert [r.id for r in rules] == ["folder-a", "folder-b"]
    assert [f.path for f in rules.files] == ["folder/a.yaml", "folder/nested/b.yml"]


def test_files_and_folders_load_in_the_order_given_and_a_file_named_twice_loads_once(
    in_data: None,
) -> None:
    rules = load_rule_files(["good_design_example.yaml", "folder", "folder/a.yaml"])

    assert [r.id for r in rules] == [
        "notify-email-confirmed",
        "celery-jobs-complete",
        "folder-a",
        "folder-b",
    ]


def test_a_rule_id_repeated_in_another_file_points_at_the_second_and_names_the_first(
    in_data: None,
) -> None:
    assert problems(["dup_ids"]) == [
        "dup_ids/second.yaml:6:9: rule id 'notify-email-confirmed' already defined at "
        "dup_ids/first.yaml:2:9",
    ]


def test_problems_of_every_file_are_reported_together_files_in_load_order(in_data: None) -> None:
    assert problems(["bad_severity.yaml", "good_design_example.yaml", "bad_id_pattern.yaml"]) == [
        "bad_severity.yaml:3:15: severity must be one of info, low, medium, high, critical, "
        "not 'urgent'",
        "bad_severity.yaml:7:15: severity must be one of info, low, medium, high, critical, "
        "not 'hgih' (did you mean 'high'?)",
        "bad_id_pattern.yaml:2:9: id 'Bad ID' must match [a-z0-9][a-z0-9._-]*",
    ]


def test_a_broken_file_still_takes_part_in_the_duplicate_id_check(in_data: None) -> None:
    assert problems(["bad_severity.yaml", "dup_ids/first.yaml", "bad_duplicate_rule_id.yaml"])[
        2:
    ] == [
        "bad_duplicate_rule_id.yaml:2:9: rule id 'notify-email-confirmed' already defined at "
        "dup_ids/first.yaml:2:9",
        "bad_duplicate_rule_id.yaml:6:9: rule id 'notify-email-confirmed' already defined at "
        "dup_ids/first.yaml:2:9",
    ]


def test_a_missing_path_is_a_problem_without_a_position(in_data: None) -> None:
    assert problems(["no-such-rules", "good_design_example.yaml"]) == [
        "no-such-rules: no such file or folder"
    ]


def test_a_file_that_is_not_utf8_is_a_problem_at_the_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("rules:\n  - id: é".encode() + b"caf\xe9\n")

    assert problems([str(path)]) == [f"{path}:2:13: not UTF-8 text"]


def test_rule_texts_load_as_one_set_with_ids_unique_across_them() -> None:
    text = "rules: [{id: same, severity: low, jobs: {}, complete_within: 1m}]\n"

    assert [r.id for r in load_rule_text(text, "one.yaml")] == ["same"]
    with pytest.raises(RuleError) as caught:
        load_rule_texts([("a.yaml", text), ("b.yaml", text)])
    assert caught.value.problems == ["b.yaml:1:14: rule id 'same' already defined at a.yaml:1:14"]


SYSTEMS = """\
systems:
  - name: celery
    job_span: run/*
rules: []
"""

PROFILE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "job_span": {"type": "string"}},
}


def test_systems_entries_are_kept_raw_with_their_locations_for_the_profile_loader() -> None:
    (entry,) = load_rule_text(SYSTEMS, "celery.yaml").systems

    assert entry.value == {"name": "celery", "job_span": "run/*"}
    assert entry.location == Location("celery.yaml", 2, 5)
    assert str(entry.document.problem((*entry.path, "job_span"), "no such span")) == (
        "celery.yaml:3:15: no such span"
    )


def test_a_plugged_in_profile_schema_checks_systems_entries_in_the_same_words() -> None:
    text = "systems:\n  - name: celery\n    job_spam: run/*\n  - job_span: x\n"

    with pytest.raises(RuleError) as caught:
        load_rule_text(text, "s.yaml", system_schema=PROFILE_SCHEMA)

    assert caught.value.problems == [
        "s.yaml:3:5: unknown key 'job_spam' in system profile 'celery' (did you mean 'job_span'?)",
        "s.yaml:4:5: system profile is missing 'name'",
    ]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


RULE = "rules:\n  - id: {id}\n    severity: low\n    jobs: {{system: celery}}\n    expect: {{effect: e}}\n"
TEST = "rule_files: [rules.yaml]\ntests: []\n"


def test_a_folder_skips_rule_test_files_by_name_and_below_a_tests_folder(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "tests" / "project",  # a "tests" folder above the one given does not count
        {
            "rules.yaml": RULE.format(id="kept"),
            "nested/more.yml": RULE.format(id="kept-too"),
            "email_test.yaml": TEST,
            "email.test.yml": TEST,
            "tests/anything.yaml": TEST,
            "nested/tests/deeper/other.yaml": TEST,
        },
    )
    rules = load_rule_files([root])
    assert [r.id for r in rules] == ["kept-too", "kept"]


def test_a_rule_test_file_named_on_its_own_says_how_to_run_it(tmp_path: Path) -> None:
    test = _tree(tmp_path, {"email_test.yaml": TEST}) / "email_test.yaml"
    assert problems([str(test)]) == [
        f"{test}: a rule test file, not a rule file: run it with `audit rules test`"
    ]


def test_the_same_file_through_a_symlink_loads_once(tmp_path: Path) -> None:
    root = _tree(tmp_path / "real", {"rules.yaml": RULE.format(id="once")})
    (tmp_path / "link").symlink_to(root)
    assert [r.id for r in load_rule_files([root, tmp_path / "link"])] == ["once"]
