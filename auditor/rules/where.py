"""The ``where:`` escape hatch: one pure SQL condition, checked before it reaches a compiler.

Pure. ``where_problem(text, label)`` returns None when ``text`` is a single SQL boolean
expression in DuckDB syntax, else one sentence for the rule author (``label`` names the field,
e.g. ``jobs.where``). ``parse_where(text)`` returns the sqlglot expression for the compiler,
which splices it into its own AST; it must only be called on text that passed the check.

Rejected, because a condition must only filter rows that the compiler already chose: more
than one statement or any ``;``; statements (SELECT, INSERT, ATTACH, COPY, PRAGMA, SET, …);
subqueries (``IN (SELECT …)``, ``EXISTS``); functions that read files, tables, the
environment or the catalog (``read_csv``, ``read_parquet``, ``glob``, ``getenv``, ``*_scan``,
``duckdb_*``, …); aggregate and window functions (not allowed in a WHERE anyway);
placeholders (``?``, ``$1``, ``:x``), which would collide with the compiler's bound values;
and top-level values that cannot be true or false (``42``, ``a + 1``). Rules also run on a
connection with external access disabled; this check is the first wall, not the only one.

Which table a column belongs to is the compiler's business: ``columns_named(text)`` lists
the columns a condition names without a table, and ``qualified(tree, table_of)`` gives each
of them the table ``table_of(name)`` says (a ``jobs.where`` reads the job run's row and its
span, two tables, so its columns must say which).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

DIALECT = "duckdb"

# Function names (lowercase) a condition may not call: table functions, file and catalog access.
_FORBIDDEN_FUNCTIONS = frozenset(
    {
        "glob",
        "sniff_csv",
        "query",
        "query_table",
        "getenv",
        "current_setting",
        "getvariable",
        "load_extension",
        "which_secret",
    }
)
_FORBIDDEN_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_")
_FORBIDDEN_SUFFIXES = ("_scan", "_metadata", "_query")

_QUERY_START = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.VALUES, TokenType.COMMAND}
)

_NOT_A_CONDITION: tuple[type[exp.Expression], ...] = (
    exp.Literal,
    exp.Null,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.DPipe,
    exp.Neg,
    exp.Interval,
    exp.Star,
    exp.Array,
    exp.Tuple,
)


def _statement_tokens() -> frozenset[TokenType]:
    parser = Dialect.get_or_raise(DIALECT).parser_class
    return frozenset(parser.STATEMENT_PARSERS) | _QUERY_START


_STATEMENT_START = _statement_tokens()


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning when it falls back to a raw command; the caller reports instead."""
    logger = logging.getLogger("sqlglot")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _forbidden_function(name: str) -> bool:
    return (
        name in _FORBIDDEN_FUNCTIONS
        or name.startswith(_FORBIDDEN_PREFIXES)
        or name.endswith(_FORBIDDEN_SUFFIXES)
    )


def parse_where(text: str) -> exp.Expression:
    """The condition as a sqlglot expression (DuckDB dialect); raises sqlglot's ParseError."""
    with _quiet_sqlglot():
        return cast(exp.Expression, sqlglot.parse_one(text, read=DIALECT, into=exp.Condition))


def _unqualified(tree: exp.Expression) -> Iterator[exp.Column]:
    """The columns of ``tree`` that name no table (a lambda's parameters are identifiers,
    not columns, so they are not among them)."""
    for column in tree.find_all(exp.Column):
        if not column.table:
            yield column


def columns_named(text: str) -> frozenset[str]:
    """The columns that the condition ``text`` (one that passed ``where_problem``) names
    without a table, lowercase: DuckDB matches column names case-insensitively."""
    return frozenset(str(column.name).lower() for column in _unqualified(parse_where(text)))


def qualified(tree: exp.Expression, table_of: Callable[[str], str]) -> exp.Expression:
    """``tree`` (changed in place) with each column that names no table given the table
    ``table_of(lowercase name)``; a column the author qualified keeps its table."""
    for column in list(_unqualified(tree)):
        column.set("table", exp.to_identifier(table_of(str(column.name).lower()), quoted=True))
    return tree


def where_problem(text: str, label: str = "where") -> str | None:
    """Why ``text`` is not a pure SQL condition, as a sentence, or None when it is one."""
    if not text.strip():
        return f"{label} must not be empty"
    try:
        tokens = sqlglot.tokenize(text, read=DIALECT)
    except TokenError:
        return f"{label} is not valid SQL: a quote or a comment is not closed"
    if any(t.token_type == TokenType.SEMICOLON for t in tokens):
        return f"{label} must be one SQL condition, without ';'"
    if tokens and tokens[0].token_type in _STATEMENT_START:
        word = tokens[0].text.split()[0].upper() if tokens[0].text.strip() else "SQL"
        return f"{label} must be an SQL condition like status = 'ok', not a statement ({word} …)"
    try:
        tree = parse_where(text)
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        near = str(detail.get("highlight") or "").strip()
        description = str(detail.get("description") or "")
        # sqlglot's descriptions name its own classes; say what it means instead.
        if description.startswith("Required keyword"):
            what = "incomplete expression" + (f" at '{near}'" if near else "")
        elif near:
            what = f"unexpected '{near}'"
        else:
            what = "not an expression"
        return f"{label} is not valid SQL: {what}"
    return _tree_problem(tree, label)


def _tree_problem(tree: exp.Expression, label: str) -> str | None:
    for node in tree.walk():
        if isinstance(node, exp.Query | exp.Subquery | exp.Exists):
            return f"{label} must not contain a subquery"
        if isinstance(node, exp.Placeholder | exp.Parameter | exp.SessionParameter):
            return f"{label} must not contain parameters like ?, $1 or :name; write values inline"
        if isinstance(node, exp.Window):
            return f"{label} must not use window functions (OVER …)"
        if isinstance(node, exp.AggFunc):
            return f"{label} must not use the aggregate function {_function_name(node)}()"
        if isinstance(node, exp.Func) and _forbidden_function(_function_name(node)):
            return (
                f"{label} must not call {_function_name(node)}(): a condition may not read "
                "files, tables or settings"
            )
        if isinstance(node, exp.Command | exp.DDL | exp.DML):
            return f"{label} must be an SQL condition, not a statement"
    top = tree.unnest() if isinstance(tree, exp.Paren) else tree
    if isinstance(top, _NOT_A_CONDITION) and not isinstance(top, exp.Boolean):
        shown = top.sql(DIALECT)
        return f"{label} must be a condition that is true or false, like status = 'ok', not {shown}"
    return None
