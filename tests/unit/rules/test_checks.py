"""``Check``: every check a rule file can ask for, the finding kind it raises (docs/design.md,
"Finding kinds"), and the builder of its SQL. The engine's findings statement turns a
check into its kind in SQL: it must say the same.
"""

from __future__ import annotations

import duckdb
import pytest

from auditor.engine import findings as engine_findings
from auditor.findings.model import Kind
from auditor.profiles.schema import profile_schema
from auditor.rules.compiler.checks import BUILDERS
from auditor.rules.model import Check
from auditor.rules.schema import rule_file_schema

DESIGN = {  # docs/design.md: "Checks map to finding kinds"
    "confirmed": "unconfirmed_done",
    "before_done": "premature_done",
    "at_most_once": "duplicate_effect",
    "effect_ok": "failed_effect",
    "complete_within": "lost_job",
}


def test_the_checks_are_the_rule_file_names_in_canonical_order() -> None:
    assert [str(c) for c in Check] == list(DESIGN)
    assert Check("confirmed") is Check.CONFIRMED


@pytest.mark.parametrize("check", list(Check))
def test_a_check_raises_the_kind_design_gives_it(check: Check) -> None:
    assert check.kind is Kind(DESIGN[check])


def test_the_schema_offers_the_checks_that_judge_runs_and_defaults_to_all_of_them() -> None:
    rule = rule_file_schema(profile_schema())["$defs"]["rule"]
    checks = rule["properties"]["checks"]
    expects = [str(c) for c in Check if c.expects]
    assert checks["items"]["enum"] == expects == checks["default"]
    assert Check.COMPLETE_WITHIN not in expects


def test_every_check_has_its_own_builder() -> None:
    assert set(BUILDERS) == set(Check)
    assert len(set(BUILDERS.values())) == len(Check)


@pytest.mark.parametrize("check", list(Check))
def test_the_engines_findings_statement_gives_a_check_its_kind(check: Check) -> None:
    kind = duckdb.connect().execute(
        f'SELECT {engine_findings._KINDS} FROM (SELECT $check AS "check") AS c', {"check": check}
    )
    assert kind.fetchall() == [(str(check.kind),)]
