"""What every part of a rule's SQL is built with: the rule, the dialect, its bound values.

Owns ``Build``: one per compiled rule, passed to each builder, which binds the rule's values
through it (``bind``, ``text_match``) so that they become parameters ``$p1``, ``$p2`` …, in
the order the builders ask for them (``compile_rule`` calls them in a fixed order: the same
rule always compiles to the same text). Also the two facts about a rule most builders ask:
whether its effect is declared by the runs (``declared``) and whether it correlates by link
(``link``).

Must never build a query: that belongs to the table and check builders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from auditor.rules.model import Correlate, Rule
from auditor.sqlbuild import Dialect, Params, eq, is_glob


@dataclass
class Build:
    rule: Rule
    dialect: Dialect
    params: Params = field(default_factory=Params)

    @property
    def d(self) -> Dialect:
        return self.dialect

    def bind(self, value: object) -> exp.Expression:
        return self.params.bind(value)

    def text_match(self, value: exp.Expression, pattern: str) -> exp.Expression:
        """``value`` matches the author's glob, or equals the text when it has no wildcard."""
        if is_glob(pattern):
            return self.d.glob(value, self.bind(pattern))
        return eq(value, self.bind(pattern))

    @property
    def declared(self) -> bool:
        """Does each run name its own expected effects (``expect: {declared: true}``)?"""
        expect = self.rule.expect
        return expect is not None and expect.declared

    @property
    def link(self) -> bool:
        return self.rule.expect is not None and self.rule.expect.correlate is Correlate.LINK
