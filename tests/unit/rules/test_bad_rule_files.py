"""Every defect class of a rule file, one fixture each: the exact lines a rule author sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.errors import ExitCode, RuleError
from auditor.rules.loader import load_rule_files

DATA = Path(__file__).resolve().parents[2] / "data" / "rules"

EXPECTED: dict[str, list[str]] = {
    "bad_yaml_syntax.yaml": [
        "bad_yaml_syntax.yaml:5:20: invalid YAML: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping started at 4:11)",
    ],
    "bad_tab_indent.yaml": [
        "bad_tab_indent.yaml:3:1: invalid YAML: found character '\\t' that cannot start any "
        "token (while scanning for the next token)",
    ],
    "bad_two_documents.yaml": [
        "bad_two_documents.yaml:2:1: invalid YAML: a second document ('---') in one file",
    ],
    "bad_duplicate_key.yaml": [
        "bad_duplicate_key.yaml:5:5: duplicate key 'severity' (first defined at 3:5)",
    ],
    "bad_unknown_key.yaml": [
        "bad_unknown_key.yaml:5:5: unknown key 'expct' in rule 'notify-email-confirmed' "
        "(did you mean 'expect'?)",
    ],
    "bad_unknown_nested_key.yaml": [
        "bad_unknown_nested_key.yaml:5:7: unknown key 'sytem' in jobs of rule "
        "'notify-email-confirmed' (did you mean 'system'?)",
        "bad_unknown_nested_key.yaml:8:9: unknown key 'nmae' in expect.span of rule "
        "'notify-email-confirmed' (did you mean 'name'?)",
    ],
    "bad_unknown_top_level_key.yaml": [
        "bad_unknown_top_level_key.yaml:1:1: unknown key 'rule' in the file "
        "(did you mean 'rules'?)",
    ],
    "bad_severity.yaml": [
        "bad_severity.yaml:3:15: severity must be one of info, low, medium, high, critical, "
        "not 'urgent'",
        "bad_severity.yaml:7:15: severity must be one of info, low, medium, high, critical, "
        "not 'hgih' (did you mean 'high'?)",
    ],
    "bad_missing_id.yaml": [
        "bad_missing_id.yaml:2:5: rule is missing 'id'",
        "bad_missing_id.yaml:6:5: rule 'no-severity' is missing 'severity'",
    ],
    "bad_id_pattern.yaml": [
        "bad_id_pattern.yaml:2:9: id 'Bad ID' must match [a-z0-9][a-z0-9._-]*",
    ],
    "bad_wrong_type.yaml": [
        "bad_wrong_type.yaml:4:11: jobs must be a mapping, not 'celery'",
        "bad_wrong_type.yaml:5:13: expect must be a mapping, not 'email.sent'",
        "bad_wrong_type.yaml:6:13: labels must be a mapping, not a list",
        "bad_wrong_type.yaml:7:14: enabled must be true or false, not 'yes'",
    ],
    "bad_not_a_mapping.yaml": [
        "bad_not_a_mapping.yaml:1:1: the file must be a mapping with a 'rules:' list, not a list",
    ],
    "bad_empty.yaml": [
        "bad_empty.yaml:1:1: the file must be a mapping with a 'rules:' list, not empty",
    ],
    "bad_rules_not_a_list.yaml": [
        "bad_rules_not_a_list.yaml:2:3: rules must be a list of rules, not a mapping",
    ],
    "bad_duration.yaml": [
        "bad_duration.yaml:7:15: expect.within must be a duration like 90s, 5m or 2h, "
        "not '5 minutes'",
        "bad_duration.yaml:8:18: expect.tolerance must be a duration like 90s, 5m or 2h, not -1",
        "bad_duration.yaml:12:22: complete_within must be a duration like 90s, 5m or 2h, "
        "not '2 weeks'",
    ],
    "bad_effect_and_span.yaml": [
        "bad_effect_and_span.yaml:6:7: expect of rule 'both' must have exactly one of "
        "'effect', 'span' or 'declared'",
        "bad_effect_and_span.yaml:12:7: expect of rule 'neither' must have exactly one of "
        "'effect', 'span' or 'declared'",
    ],
    "bad_key_without_correlate_key.yaml": [
        "bad_key_without_correlate_key.yaml:8:7: expect.key is used only with correlate: key, "
        "not correlate: trace",
        "bad_key_without_correlate_key.yaml:15:12: expect.key of rule 'key-half' is missing "
        "'effect'",
    ],
    "bad_checks_without_expect.yaml": [
        "bad_checks_without_expect.yaml:5:5: rule 'checks-alone' has 'checks' but no 'expect': "
        "checks judge the expected effect",
    ],
    "bad_checks_nothing.yaml": [
        "bad_checks_nothing.yaml:2:5: rule 'judges-nothing' needs 'expect' or "
        "'complete_within'; with neither it checks nothing",
    ],
    "bad_unknown_check.yaml": [
        "bad_unknown_check.yaml:6:14: checks entry must be one of confirmed, before_done, "
        "at_most_once, effect_ok, not 'confirm' (did you mean 'confirmed'?)",
        "bad_unknown_check.yaml:6:34: checks lists 'confirmed' twice",
        "bad_unknown_check.yaml:6:45: checks entry must be one of confirmed, before_done, "
        "at_most_once, effect_ok, not 'lost_job'",
        "bad_unknown_check.yaml:11:13: checks must not be empty",
    ],
    "bad_span_selector.yaml": [
        "bad_span_selector.yaml:8:15: expect.span.kind must be one of internal, server, client, "
        "producer, consumer, not 'Client' (did you mean 'client'?)",
        "bad_span_selector.yaml:9:17: expect.span.status must be one of ok, error, unset, "
        "not 'failed'",
        "bad_span_selector.yaml:14:13: expect.span must select something: name, kind, status, "
        "attributes or where",
        "bad_span_selector.yaml:15:18: expect.correlate must be one of trace, link, key, "
        "not 'links' (did you mean 'link'?)",
    ],
    "bad_attribute_value.yaml": [
        "bad_attribute_value.yaml:5:27: jobs.attributes.queue must be a string, a number or "
        "a boolean, not a list",
        "bad_attribute_value.yaml:5:49: jobs.attributes.priority must be a string, a number or "
        "a boolean, not empty",
    ],
    "bad_where_statement.yaml": [
        "bad_where_statement.yaml:6:14: jobs.where must be an SQL condition like "
        "status = 'ok', not a statement (SELECT …)",
        "bad_where_statement.yaml:10:16: expect.span.where must be an SQL condition like "
        "status = 'ok', not a statement (ATTACH …)",
    ],
    "bad_where_subquery.yaml": [
        "bad_where_subquery.yaml:6:14: jobs.where must not contain a subquery",
    ],
    "bad_where_table_function.yaml": [
        "bad_where_table_function.yaml:5:14: jobs.where must not call read_csv(): a condition "
        "may not read files, tables or settings",
        "bad_where_table_function.yaml:9:16: expect.span.where must not call glob(): "
        "a condition may not read files, tables or settings",
    ],
    "bad_where_column_the_rows_lack.yaml": [
        "bad_where_column_the_rows_lack.yaml:8:14: jobs.where names attempt, which a job run "
        "has and an enqueue has not; complete_within judges enqueues (a lost job never ran): "
        "put complete_within in a rule of its own",
        "bad_where_column_the_rows_lack.yaml:21:14: jobs.where names enqueued_ns, which an "
        "enqueue has and a job run has not; expect judges job runs",
    ],
    "bad_where_semicolon.yaml": [
        "bad_where_semicolon.yaml:5:14: jobs.where must be one SQL condition, without ';'",
    ],
    "bad_where_syntax.yaml": [
        "bad_where_syntax.yaml:5:14: jobs.where is not valid SQL: incomplete expression at '='",
        "bad_where_syntax.yaml:9:16: expect.span.where must be a condition that is true or "
        "false, like status = 'ok', not Duration + 1",
    ],
    "bad_duplicate_rule_id.yaml": [
        "bad_duplicate_rule_id.yaml:6:9: rule id 'notify-email-confirmed' already defined at "
        "bad_duplicate_rule_id.yaml:2:9",
    ],
    "bad_many_problems.yaml": [
        "bad_many_problems.yaml:4:15: severity must be one of info, low, medium, high, "
        "critical, not 'urgent'",
        "bad_many_problems.yaml:5:35: jobs.where must not use the aggregate function count()",
        "bad_many_problems.yaml:8:15: expect.within must be a duration like 90s, 5m or 2h, "
        "not 'soon'",
        "bad_many_problems.yaml:9:5: unknown key 'labls' in rule 'many' (did you mean 'labels'?)",
        "bad_many_problems.yaml:10:5: rule is missing 'id'",
        "bad_many_problems.yaml:13:5: duplicate key 'complete_within' (first defined at 12:5)",
    ],
}


def problems_of(name: str) -> list[str]:
    with pytest.raises(RuleError) as caught:
        load_rule_files([name])
    return caught.value.problems


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_bad_rule_file_reports_exactly_its_problems_with_file_line_and_column(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(DATA)
    assert problems_of(name) == EXPECTED[name]


def test_every_bad_fixture_has_its_expected_problems_written_down() -> None:
    assert sorted(p.name for p in DATA.glob("bad_*.yaml")) == sorted(EXPECTED)


def test_a_rule_error_is_a_usage_error_whose_message_is_one_problem_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(DATA)
    with pytest.raises(RuleError) as caught:
        load_rule_files(["bad_severity.yaml"])
    assert caught.value.exit_code is ExitCode.USAGE
    assert str(caught.value) == "\n".join(EXPECTED["bad_severity.yaml"])
