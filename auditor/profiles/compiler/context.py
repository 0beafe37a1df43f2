"""The state shared while the derived tables' statements are built: ``Context``.

Owns the table aliases (one counter for all statements, so every alias in the output is
unique and stable), the span source every statement reads (``otel_traces`` or a window of
it), and, per statement, the neighbour sets and the one scan of nearby spans they read,
which ``attach`` turns into the statement's CTEs. The condition, value and table builders
take a ``Context``; ``compile_profiles`` makes one and attaches each finished statement.

Must never decide what a condition or a column means: it only names, collects and attaches
what the condition and table builders hand it. The order in which aliases are drawn is the
order of the names in the SQL, so a change in call order is a change in every golden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from sqlglot import exp

from auditor.profiles.model import Cond
from auditor.sqlbuild import Dialect, col, ident, or_, select, subquery, table

SPANS = "otel_traces"
NEARBY = "nearby"  # the CTE of the spans that neighbour sets and child lookups read


@dataclass
class Context:
    dialect: Dialect
    source: exp.Expression  # the span table (or a window of it)
    aliases: count = field(default_factory=lambda: count(1))

    # neighbour sets (the spans whose child / parent satisfies a condition) of the statement
    # being built, each computed once however many conditions ask for it: (kind, cond) ->
    # (CTE name, its query)
    neighbours: dict[tuple[str, Cond], tuple[str, exp.Expression]] = field(default_factory=dict)

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self.aliases)}"

    def neighbour_set(self, kind: str, cond: Cond, build: Callable[[], exp.Expression]) -> str:
        key = (kind, cond)
        if key not in self.neighbours:
            self.neighbours[key] = (self.alias("n"), build())
        return self.neighbours[key][0]

    # The neighbour sets and child lookups of the statement read the spans near a job from
    # one scan of the source, narrowed by the loosest form of their conditions, instead of
    # one scan each: the aliases they read it under, and those conditions (on NEARBY).
    nearby_aliases: list[str] = field(default_factory=list)
    nearby_filters: dict[exp.Expression, None] = field(default_factory=dict)

    def nearby(self, as_: str, loosest: exp.Expression) -> exp.Expression:
        """The statement's nearby spans, aliased ``as_``, for a lookup that needs only spans
        satisfying ``loosest`` (a condition on ``as_``)."""
        self.nearby_aliases.append(as_)
        self.nearby_filters[_realias(loosest, as_, NEARBY)] = None
        return table(NEARBY, as_)

    def attach(self, query: exp.Expression) -> exp.Expression:
        """Give ``query`` the nearby spans and the neighbour sets it refers to, as CTEs, and
        start a new statement."""
        sets = [sub for _, sub in self.neighbours.values()]
        if self.nearby_aliases:
            readers = set(self.nearby_aliases)
            used = sorted(
                {c.name for tree in (query, *sets) for c in tree.find_all(exp.Column)
                 if c.table in readers}
            )  # fmt: skip
            spans = (
                select(*[col(NEARBY, c) for c in used])
                .from_(self.spans(NEARBY), copy=False)
                .where(or_(*self.nearby_filters), copy=False)
            )
            query = query.with_(NEARBY, as_=spans, materialized=True, copy=False)  # type: ignore[attr-defined]
        for name, sub in self.neighbours.values():
            query = query.with_(name, as_=sub, materialized=True, copy=False)  # type: ignore[attr-defined]
        self.neighbours = {}
        self.nearby_aliases = []
        self.nearby_filters = {}
        return query

    def spans(self, as_: str) -> exp.Expression:
        source = self.source.copy()
        if isinstance(source, exp.Table):
            source.set("alias", exp.TableAlias(this=exp.to_identifier(as_, quoted=True)))
            return source
        return subquery(source, as_)


def _realias(condition: exp.Expression, old: str, new: str) -> exp.Expression:
    out = condition.copy()
    for column in out.find_all(exp.Column):
        if column.table == old:
            column.set("table", ident(new))
    return out
