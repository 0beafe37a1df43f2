"""``where:`` accepts one pure SQL condition and says why anything else is refused."""

from __future__ import annotations

import pytest
from sqlglot import exp

from auditor.rules.where import parse_where, where_problem


@pytest.mark.parametrize(
    "text",
    [
        "queue = 'mail'",
        "status = 'ok' AND attempt > 1",
        "job_name NOT LIKE '%.test'",
        "SpanAttributes['smtp.reply.code'] = '250'",
        "starts_with(job_name, 'tasks.')",
        "attempt::int BETWEEN 1 AND 3",
        "queue IN ('mail', 'sms')",
        "(a = 1 OR b IS NULL)",
        "CASE WHEN a THEN b ELSE c END",
        "regexp_matches(job_name, '^tasks\\.')",
        "true",
        "queue = 'it''s; fine'",
        "queue = 'mail' -- a comment",
    ],
)
def test_a_pure_condition_is_accepted(text: str) -> None:
    assert where_problem(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "where must not be empty"),
        ("queue = 'a'; DROP TABLE job_runs", "where must be one SQL condition, without ';'"),
        ("queue = 'a';", "where must be one SQL condition, without ';'"),
        (
            "SELECT 1",
            "where must be an SQL condition like status = 'ok', not a statement (SELECT …)",
        ),
        (
            "INSERT INTO t VALUES (1)",
            "where must be an SQL condition like status = 'ok', not a statement (INSERT …)",
        ),
        (
            "ATTACH 'x.db'",
            "where must be an SQL condition like status = 'ok', not a statement (ATTACH …)",
        ),
        (
            "COPY job_runs TO 'x.csv'",
            "where must be an SQL condition like status = 'ok', not a statement (COPY …)",
        ),
        (
            "PRAGMA version",
            "where must be an SQL condition like status = 'ok', not a statement (PRAGMA …)",
        ),
        (
            "LOAD httpfs",
            "where must be an SQL condition like status = 'ok', not a statement (LOAD …)",
        ),
        (
            "FROM job_runs",
            "where must be an SQL condition like status = 'ok', not a statement (FROM …)",
        ),
        ("a IN (SELECT 1)", "where must not contain a subquery"),
        ("EXISTS (SELECT 1)", "where must not contain a subquery"),
        ("(SELECT 1) = 1", "where must not contain a subquery"),
        (
            "read_csv('/etc/passwd') IS NULL",
            "where must not call read_csv(): a condition may not read files, tables or settings",
        ),
        (
            "'x' = read_parquet('s3://b/x.parquet')",
            "where must not call read_parquet(): a condition may not read files, tables or "
            "settings",
        ),
        (
            "glob('*') IS NULL",
            "where must not call glob(): a condition may not read files, tables or settings",
        ),
        (
            "getenv('HOME') = '/root'",
            "where must not call getenv(): a condition may not read files, tables or settings",
        ),
        (
            "sqlite_scan('x.db', 't') IS NULL",
            "where must not call sqlite_scan(): a condition may not read files, tables or settings",
        ),
        ("count(*) > 1", "where must not use the aggregate function count()"),
        ("row_number() OVER () = 1", "where must not use window functions (OVER …)"),
        (
            "a = ?",
            "where must not contain parameters like ?, $1 or :name; write values inline",
        ),
        (
            "a = $1",
            "where must not contain parameters like ?, $1 or :name; write values inline",
        ),
        (
            "42",
            "where must be a condition that is true or false, like status = 'ok', not 42",
        ),
        (
            "attempt + 1",
            "where must be a condition that is true or false, like status = 'ok', not attempt + 1",
        ),
        ("a = = 1", "where is not valid SQL: incomplete expression at '='"),
        ("a b", "where is not valid SQL: unexpected 'b'"),
        ("a = 1 UNION SELECT 2", "where is not valid SQL: unexpected 'UNION'"),
        ("a = 'open", "where is not valid SQL: a quote or a comment is not closed"),
    ],
)
def test_anything_but_one_pure_condition_is_refused_with_a_reason(text: str, problem: str) -> None:
    assert where_problem(text) == problem


def test_the_field_is_named_in_the_reason() -> None:
    assert where_problem("SELECT 1", "expect.span.where") == (
        "expect.span.where must be an SQL condition like status = 'ok', not a statement (SELECT …)"
    )


def test_a_checked_condition_parses_to_an_expression_for_the_compiler() -> None:
    tree = parse_where("queue = 'mail' AND attempt > 1")

    assert isinstance(tree, exp.And)
    assert tree.sql("duckdb") == "queue = 'mail' AND attempt > 1"
