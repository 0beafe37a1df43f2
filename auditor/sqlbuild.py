"""A small kit for building SQL as sqlglot ASTs: columns, attribute reads, globs, time.

Every query auditor runs over spans is built from these pieces (by ``profiles.compiler``
and ``rules.compiler``), never by pasting text: identifiers are quoted nodes, constants are
literal nodes that sqlglot escapes, and values from rule files are bound parameters.

The functions that differ between engines go through ``Dialect`` so that the same compiler
can target DuckDB (the embedded default) and, later, ClickHouse's ``otel_traces``. Only
constructs docs/design.md lists as portable are used: anti joins on subqueries, uncorrelated
``IN`` subqueries, ``GROUP BY … HAVING``, and ``COALESCE`` around attribute reads (a missing
key is NULL in DuckDB but '' in ClickHouse). Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlglot import exp


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(table: str | None, name: str) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def lit(value: str | int | float | bool | None) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def and_(*conditions: exp.Expression | None) -> exp.Expression:
    parts = [c for c in conditions if c is not None]
    if not parts:
        return exp.true()
    return cast(exp.Expression, exp.and_(*parts, copy=False)) if len(parts) > 1 else parts[0]


def or_(*conditions: exp.Expression) -> exp.Expression:
    parts = list(conditions)
    if not parts:
        return exp.false()
    return cast(exp.Expression, exp.or_(*parts, copy=False)) if len(parts) > 1 else parts[0]


def func(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def alias(expression: exp.Expression, name: str) -> exp.Expression:
    return cast(exp.Expression, exp.alias_(expression, ident(name), copy=False))


def select(*expressions: exp.Expression | str) -> exp.Select:
    """``SELECT expressions`` without copying them (the compilers build fresh trees; copying
    every node was most of the compile time)."""
    return exp.select(*expressions, copy=False)


def table(name: str, as_: str | None = None) -> exp.Table:
    t = exp.Table(this=ident(name))
    if as_:
        t.set("alias", exp.TableAlias(this=ident(as_)))
    return t


def subquery(query: exp.Expression, as_: str) -> exp.Subquery:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=ident(as_)))


def join(kind: str, target: exp.Expression, on: exp.Expression) -> exp.Join:
    """``kind``: inner | left | anti | semi."""
    k = kind.upper()
    if k in ("ANTI", "SEMI"):
        return exp.Join(this=target, kind=k, on=on)
    if k == "LEFT":
        return exp.Join(this=target, side="LEFT", on=on)
    return exp.Join(this=target, on=on)


def eq(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.EQ(this=a, expression=b)


def in_subquery(columns: Iterable[exp.Expression], query: exp.Expression) -> exp.Expression:
    cols = list(columns)
    left = cols[0] if len(cols) == 1 else exp.Tuple(expressions=cols)
    return exp.In(this=left, query=exp.Subquery(this=query))


@dataclass
class Params:
    """Bound parameters of one query: values from rule files never enter the SQL text."""

    prefix: str = "p"
    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> exp.Placeholder:
        for name, existing in self.values.items():  # one parameter per distinct value
            if existing == value and type(existing) is type(value):
                return exp.Placeholder(this=name)
        name = f"{self.prefix}{len(self.values) + 1}"
        self.values[name] = value
        return exp.Placeholder(this=name)


@dataclass(frozen=True)
class Dialect:
    """The engine-specific spellings the compilers need. Only DuckDB is implemented; the
    methods are the seam where ClickHouse spellings go."""

    name: str = "duckdb"

    def attr(
        self, table_alias: str | None, key: str, column: str = "SpanAttributes"
    ) -> exp.Expression:
        """An attribute's value as text, '' when absent."""
        path = exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=key)])
        read = exp.JSONExtractScalar(this=col(table_alias, column), expression=path)
        return exp.Coalesce(this=read, expressions=[lit("")])

    def has_attr(
        self, table_alias: str | None, key: str, column: str = "SpanAttributes"
    ) -> exp.Expression:
        path = exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=key)])
        read = exp.JSONExtract(this=col(table_alias, column), expression=path)
        return exp.Not(this=exp.Is(this=read, expression=exp.Null()))

    def attrs(
        self, table_alias: str | None, keys: list[str], column: str = "SpanAttributes"
    ) -> exp.Expression | None:
        """The values of several attributes from one parse of the map (a list, in the order
        of ``keys``; each NULL when absent), or None when the engine has no such read."""
        paths = [
            exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=key)])
            for key in keys
        ]
        return func("json_extract_string", col(table_alias, column), exp.Array(expressions=paths))

    def pick(self, values: exp.Expression, index: int) -> exp.Expression:
        """Item ``index`` (0-based) of a list made by ``attrs``."""
        return func("list_extract", values, lit(index + 1))

    def mentions_key(
        self,
        table_alias: str | None,
        key: str,
        column: str = "SpanAttributes",
        exact: bool = True,
    ) -> exp.Expression:
        """A cheap test that the attribute map has ``key``: the stored JSON text contains
        the key's JSON spelling followed by ":" (otlp/values.py writes compact JSON, and a
        quote inside a value is always escaped). Put before the JSON read, it spares parsing
        the attributes of every span that cannot match.

        ``exact=False`` leaves out the key's opening quote: a key ending in ``key`` passes
        too, so the test must be followed by an exact one that fails when the key is absent.
        It is three times faster: the text search looks for the needle's first character,
        and a quote starts every key and string of the map."""
        needle = json.dumps(key) + ":"
        return func("contains", col(table_alias, column), lit(needle if exact else needle[1:]))

    def epoch_ns(self, timestamp: exp.Expression) -> exp.Expression:
        return func("epoch_ns", timestamp)

    def end_ns(self, table_alias: str) -> exp.Expression:
        return exp.Add(
            this=self.epoch_ns(col(table_alias, "Timestamp")),
            expression=col(table_alias, "Duration"),
        )

    def has_event(self, table_alias: str, name: exp.Expression) -> exp.Expression:
        return func("list_contains", col(table_alias, "Events.Name"), name)

    def event_ns(self, table_alias: str, name: exp.Expression) -> exp.Expression:
        """The time of the first event ``name`` on the span, NULL when it has none."""
        position = func("list_position", col(table_alias, "Events.Name"), name)
        return self.epoch_ns(func("list_extract", col(table_alias, "Events.Timestamp"), position))

    def glob(self, value: exp.Expression, pattern: exp.Expression) -> exp.Expression:
        return exp.Glob(this=value, expression=pattern)

    def concat_ws(self, separator: str, parts: list[exp.Expression]) -> exp.Expression:
        return func("concat_ws", lit(separator), *parts)

    def list_agg(self, value: exp.Expression) -> exp.Expression:
        return func("list", value)

    def list_agg_distinct(self, value: exp.Expression) -> exp.Expression:
        return func("list", exp.Distinct(expressions=[value]))

    def string_agg_distinct(self, value: exp.Expression) -> exp.Expression:
        return func("string_agg", exp.Distinct(expressions=[value]), lit(","))

    def render(self, expression: exp.Expression, pretty: bool = True, consume: bool = False) -> str:
        """SQL text. ``consume``: the generator may change the tree instead of a copy (faster;
        the tree must not be used afterwards)."""
        return expression.sql(dialect=self.name, pretty=pretty, copy=not consume)


DUCKDB = Dialect("duckdb")


def span_columns(a: str, dialect: Dialect) -> dict[str, exp.Expression]:
    """The columns every derived table taken from one span has, by their derived names, over
    span ``a`` of otel_traces (times as integer nanoseconds since the epoch)."""
    return {
        "start_ns": dialect.epoch_ns(col(a, "Timestamp")),
        "end_ns": dialect.end_ns(a),
        "trace_id": col(a, "TraceId"),
        "span_id": col(a, "SpanId"),
        "parent_span_id": col(a, "ParentSpanId"),
        "service": col(a, "ServiceName"),
        "span_name": col(a, "SpanName"),
        "attributes": col(a, "SpanAttributes"),
        "link_trace_ids": col(a, "Links.TraceId"),
        "batch_id": col(a, "BatchId"),
    }


ATTRIBUTE_VALUES = "attribute_values"  # the column of read_attributes_once's list


def with_attribute_values(a: str, values: exp.Expression) -> exp.Select:
    """``SELECT a.*, values AS attribute_values``: the spans a query rewritten by
    ``read_attributes_once`` reads, with the list of their attribute values."""
    return select(exp.Column(this=exp.Star(), table=ident(a)), alias(values, ATTRIBUTE_VALUES))


def select_reading_attributes_once(
    selected: list[exp.Expression],
    a: str,
    spans: exp.Expression,
    where: exp.Expression,
    dialect: Dialect,
) -> exp.Select:
    """``SELECT selected FROM spans WHERE where`` (``spans`` aliased ``a``), with the matching
    spans' attributes parsed once for every column that reads them."""
    selected, values = read_attributes_once(selected, a, dialect)
    if values is None:
        return select(*selected).from_(spans, copy=False).where(where, copy=False)
    matching = with_attribute_values(a, values).from_(spans, copy=False).where(where, copy=False)
    return select(*selected).from_(subquery(matching, a), copy=False)


def read_attributes_once(
    selected: list[exp.Expression], a: str, dialect: Dialect
) -> tuple[list[exp.Expression], exp.Expression | None]:
    """Each read of an attribute of span ``a`` in ``selected`` made an item of one list,
    read with one parse of the attribute map (``Dialect.attrs``): every read parses the
    whole JSON text, and a job run's columns read ten or more keys. Returns the rewritten
    expressions and the list (None, and ``selected`` as it was, when there is nothing to
    share or the engine cannot)."""

    def key_of(node: exp.Expression) -> str | None:
        if not isinstance(node, exp.JSONExtractScalar):
            return None
        source, path = node.this, node.expression
        if not (isinstance(source, exp.Column) and source.table == a):
            return None
        if source.name != "SpanAttributes" or not isinstance(path, exp.JSONPath):
            return None
        parts = path.expressions
        if len(parts) != 2 or not isinstance(parts[1], exp.JSONPathKey):
            return None
        return str(parts[1].this)

    keys: dict[str, int] = {}
    for expression in selected:
        for node in expression.find_all(exp.JSONExtractScalar):
            key = key_of(node)
            if key is not None:
                keys.setdefault(key, len(keys))
    values = dialect.attrs(a, list(keys)) if len(keys) > 1 else None
    if values is None:
        return selected, None

    def rewrite(node: exp.Expression) -> exp.Expression:
        key = key_of(node)
        return node if key is None else dialect.pick(col(a, ATTRIBUTE_VALUES), keys[key])

    return [e.transform(rewrite, copy=False) for e in selected], values


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")
