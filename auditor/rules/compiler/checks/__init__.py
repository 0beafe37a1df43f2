"""One query per check, over the rule's shared tables ``j``, ``e`` and ``m``.

``BUILDERS[check]`` builds the query of a ``Check`` (``auditor.rules.model``), one module
each: ``unconfirmed`` (``confirmed`` and ``effect_ok``), ``premature`` (``before_done``),
``duplicates`` (``at_most_once``) and ``lost`` (``complete_within``, which reads the enqueues
and none of the shared tables); ``judged`` lists the jobs a rule judges. Each returns the
columns of ``auditor.tables.CHECK_ROW`` but the first (``rows``), and may carry CTEs of its
own, which ``CompiledRule.batch`` hoists next to the shared ones (same name, same query).

A new check is a ``Check`` member, its builder module, and its entry here: the mapping is
checked complete when this package is imported.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from auditor.rules.compiler.checks.duplicates import at_most_once
from auditor.rules.compiler.checks.judged import JUDGED, JUDGED_PADDING, judged
from auditor.rules.compiler.checks.lost import complete_within
from auditor.rules.compiler.checks.premature import before_done
from auditor.rules.compiler.checks.unconfirmed import confirmed, effect_ok
from auditor.rules.compiler.context import Build
from auditor.rules.model import Check

Builder = Callable[[Build], exp.Select]

BUILDERS: dict[Check, Builder] = {
    Check.CONFIRMED: confirmed,
    Check.BEFORE_DONE: before_done,
    Check.AT_MOST_ONCE: at_most_once,
    Check.EFFECT_OK: effect_ok,
    Check.COMPLETE_WITHIN: complete_within,
}
if set(BUILDERS) != set(Check):  # pragma: no cover - a check added without its builder
    raise ImportError(f"checks without a builder: {sorted(set(Check) - set(BUILDERS))}")

__all__ = ["BUILDERS", "JUDGED", "JUDGED_PADDING", "Builder", "judged"]
