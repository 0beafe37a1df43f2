"""How a rule's checks run: as one statement, and with other rules' shared effects tables.

Owns ``CompiledRule`` (a rule's shared tables and its checks' queries) and its ``batch``:
the one statement the engine runs per rule — the shared tables as MATERIALIZED CTEs, one
UNION ALL branch per check, each row tagged with its check — and what makes two rules'
effect tables the same (``effects_key``), by which ``shared_effect_tables`` lets every rule
that accepts the same effect spans read one table made once.

Must never build a check's own SQL: that is the ``checks`` package's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from auditor.rules.compiler.checks import JUDGED, JUDGED_PADDING
from auditor.rules.compiler.context import Build
from auditor.rules.compiler.shared import effects
from auditor.rules.model import Check, Rule
from auditor.sqlbuild import DUCKDB, Dialect, alias, lit, select, subquery
from auditor.tables import CHECK_ROW

EffectsKey = tuple[str, tuple[object, ...]]  # an effects table's SQL (? for values), values

_PARAMETER = re.compile(r"\$(p\d+)")  # a bound parameter in rendered SQL: $p1, $p2, …


@dataclass(frozen=True)
class CompiledCheck:
    check: str  # a Check, or "judged" for the jobs the rule judges
    body: exp.Expression  # the check over the shared tables j, e, m (CompiledRule.common)
    all_params: dict[str, object] = field(default_factory=dict)

    @property
    def body_params(self) -> dict[str, object]:
        return _used(self.all_params, self.body)

    def body_sql(self, dialect: Dialect = DUCKDB, pretty: bool = False) -> str:
        return dialect.render(self.body, pretty=pretty)


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    checks: tuple[CompiledCheck, ...]
    judged: CompiledCheck  # (system, job_id, job_name) of every job the rule judges
    # the tables every check reads (j, e, m): name, query (parameters from all_params)
    common: tuple[tuple[str, exp.Expression], ...] = ()
    all_params: dict[str, object] = field(default_factory=dict)

    def batch(
        self,
        *,
        judged: str = "rows",
        consume: bool = False,
        tables: dict[str, str] | None = None,
    ) -> tuple[exp.Expression, dict[str, object]]:
        """Every check of the rule, and the judged jobs, as one query: the shared tables
        as MATERIALIZED CTEs (computed once), then one UNION ALL branch per check, each row
        tagged with its check in the first column ("check"). What the engine runs: one
        statement per rule instead of one per check.

        ``judged``: ``rows`` adds a row per judged job (check "judged", for JUnit), ``count``
        one row whose ``detail_ns`` is their number (check "judged_count"), ``none`` neither.
        ``consume``: build from this rule's own trees instead of copies (faster; the
        compiled rule must not be used afterwards). ``tables`` maps a shared table (``e``)
        to a table already made that holds it (rules with the same effect share one)."""

        def fresh(node: exp.Expression) -> exp.Expression:
            return node if consume else node.copy()

        ctes: dict[str, exp.Expression] = {}
        for name, shared in self.common:
            made = (tables or {}).get(name)
            ctes[name] = shared if made is None else select(exp.Star()).from_(made)
        branches: list[exp.Expression] = []
        for check in (*self.checks, *([self.judged] if judged != "none" else [])):
            body = fresh(check.body)
            own = body.args.get("with_")
            if own is not None:
                for cte in own.expressions:
                    ctes.setdefault(cte.alias, cte.this)  # same name, same definition
                body.set("with_", None)
            name = check.check
            if name == "judged" and judged == "count":
                name = "judged_count"
                body = _counted(body)
            elif name == "judged":
                padding = [alias(exp.cast(exp.Null(), t), c) for c, t in JUDGED_PADDING]
                body.set("expressions", [*body.expressions, *padding])
            body.set("expressions", [alias(lit(name), "check"), *body.expressions])
            branches.append(body)
        union: exp.Expression = branches[0]
        for branch in branches[1:]:
            union = exp.union(union, branch, distinct=False, copy=False)
        outer = select(exp.Star()).from_(subquery(union, "checks"), copy=False)
        # a table read more than once is computed once (the shared ones always are)
        reads = Counter(
            t.name
            for tree in (union, *ctes.values())
            for t in tree.find_all(exp.Table)
            if t.name in ctes
        )
        for name, cte in ctes.items():
            materialized = name in ("j", "e", "m") or reads[name] > 1
            outer = outer.with_(name, as_=fresh(cte), materialized=materialized, copy=False)
        return outer, _used(self.all_params, outer)

    def shared_key(self, name: str) -> EffectsKey | None:
        """What makes shared table ``name`` the same in two rules: its SQL with parameters
        in order of appearance, and their values."""
        for table_name, query in self.common:
            if table_name == name:
                return _key(DUCKDB.render(query, pretty=False), self.all_params)
        return None


def _counted(judged: exp.Expression) -> exp.Select:
    """One row whose ``detail_ns`` is the number of judged jobs, padded to CHECK_ROW."""
    count = exp.Count(this=exp.Star())
    return select(
        *[
            alias(exp.cast(exp.Null(), t, copy=False), c)
            for c, t in CHECK_ROW
            if c in JUDGED and c != "check"
        ],
        *[
            alias(count, c) if c == "detail_ns" else alias(exp.cast(exp.Null(), t), c)
            for c, t in JUDGED_PADDING
        ],
    ).from_(subquery(judged, "judged"), copy=False)


def _key(sql: str, params: dict[str, object]) -> EffectsKey:
    order = _PARAMETER.findall(sql)
    return _PARAMETER.sub("?", sql), tuple(params[p] for p in order)


def _used(params: dict[str, object], query: exp.Expression) -> dict[str, object]:
    names = {p.name for p in query.find_all(exp.Placeholder)}
    return {k: v for k, v in params.items() if k in names}


def params_in(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters that rendered ``sql`` uses (``$p1``…)."""
    names = set(_PARAMETER.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def effects_key(rule: Rule, dialect: Dialect = DUCKDB) -> EffectsKey | None:
    """``compile_rule(rule).shared_key("e")`` without compiling the rest of the rule: what the
    engine groups rules by to make one effects table for those that accept the same spans."""
    if rule.expect is None or all(c is Check.COMPLETE_WITHIN for c in rule.checks):
        return None
    b = Build(rule, dialect)
    return _key(dialect.render(effects(b), pretty=False, consume=True), b.params.values)


def shared_effect_tables(
    rules: Iterable[Rule], key: Callable[[Rule], EffectsKey | None] = effects_key
) -> tuple[dict[str, str], list[tuple[str, str, list[object]]]]:
    """Rules that accept the same effect spans (the same ``e``) read one table made once:
    (rule id -> table, [(table, SELECT with ``?`` parameters, their values)] to make first).
    A table is made only for two rules or more. ``key``: ``effects_key``, or a cached one."""
    groups: dict[EffectsKey, list[Rule]] = {}
    for rule in rules:
        found = key(rule)
        if found is not None:
            groups.setdefault(found, []).append(rule)
    tables: dict[str, str] = {}
    made: list[tuple[str, str, list[object]]] = []
    for index, ((sql, values), members) in enumerate(groups.items()):
        if len(members) < 2:
            continue
        table_name = f"shared_effects_{index}"
        made.append((table_name, sql, list(values)))
        for rule in members:
            tables[rule.id] = table_name
    return tables, made
