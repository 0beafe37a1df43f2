"""A ``jobs.where`` may name the job run's columns (``attempt``, ``queue``, ``job_name`` …)
and its span's (``ServiceName``, ``Duration``, ``SpanAttributes`` …), together, in every
correlation, and selects exactly the runs (or, for ``complete_within``, the enqueues) for
which the condition holds.

What each rule must find is derived without the rule's SQL: the same rule without ``where``
runs through the engine on the real captures, and its findings are kept when the condition,
written again in Python over the derived row and its span, holds for the row they are about
(a run for ``confirmed``, ``before_done`` and ``effect_ok``, an enqueue for ``lost_job``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.cli.main import main
from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.findings.model import Finding
from auditor.store.duck import DuckStore
from tests.unit.engine.scanning import DATA, SYSTEMS, capture, derived, store_with_spans

Row = dict[str, Any]


@dataclass(frozen=True)
class Where:
    text: str
    holds: Callable[[Row, Row], bool]  # (derived row, its span in otel_traces) -> selected?


# Conditions that keep some of the captures' lies and drop others.
RUN_WHERES = (
    Where("attempt >= 1 AND outcome = 'done'", lambda run, _: run["attempt"] >= 1),
    Where(
        "attempt = 1 AND queue LIKE 'emails-%' AND job_name LIKE '%.%'",
        lambda run, _: run["attempt"] == 1 and "." in run["job_name"],
    ),
    Where("job_id < '8'", lambda run, _: run["job_id"] < "8"),
    Where(  # span_name and status are columns only derived when a rule reads them
        "span_name NOT LIKE 'zzz%' AND status <> 'Error' AND end_ns - start_ns > 5000000",
        lambda run, _: run["status"] != "Error" and run["end_ns"] - run["start_ns"] > 5_000_000,
    ),
    Where(  # a column of the run and columns of its span, in one OR
        "job_id < '5' OR (ServiceName LIKE 'shop-%' AND Duration > 9000000)",
        lambda run, span: (
            run["job_id"] < "5"
            or (span["ServiceName"].startswith("shop-") and span["Duration"] > 9_000_000)
        ),
    ),
    Where("SpanKind = 'Consumer' AND Duration < 9000000", lambda _, s: s["Duration"] < 9_000_000),
)
# The captures hold one lost job (Celery's crash, enqueued by shop-api): these keep or drop it.
ENQUEUE_WHERES = (
    Where("service = 'shop-api'", lambda q, _: q["service"] == "shop-api"),
    Where("job_id < '8' AND SpanKind = 'Producer'", lambda q, _: q["job_id"] < "8"),
    Where("job_id >= '8' OR ServiceName <> 'shop-api'", lambda q, s: q["job_id"] >= "8"),
    Where("job_name NOT LIKE 'shop.%' AND Duration >= 0", lambda q, _: False),
)


@dataclass(frozen=True)
class Spans:
    store: DuckStore
    rows: dict[str, list[Row]]  # the derived tables, every column
    spans: dict[tuple[str, str], Row]  # otel_traces by (TraceId, SpanId)

    def row(self, table: str, f: Finding) -> tuple[Row, Row]:
        (row,) = [
            r for r in self.rows[table] if (r["trace_id"], r["span_id"]) == (f.trace_id, f.span_id)
        ]
        return row, self.spans[(f.trace_id, f.span_id)]


@pytest.fixture(scope="module")
def captures() -> Iterator[Spans]:
    with store_with_spans(files=[capture(s) for s in SYSTEMS]) as store:
        rows = derived(store, load_catalog([], packs=False).profiles)
        cursor = store.con.execute("SELECT * FROM otel_traces")
        names = [d[0] for d in cursor.description or ()]
        spans = {}
        for values in cursor.fetchall():
            span = dict(zip(names, values, strict=True))
            spans[(span["TraceId"], span["SpanId"])] = span
        yield Spans(store, rows, spans)


def _rule(where: str | None, body: str) -> str:
    where_line = f"\n      where: {where!r}" if where else ""
    return f"""\
rules:
  - id: r
    severity: high
    jobs:
      name: "*"{where_line}
{body}"""


def _found(spans: Spans, text: str) -> set[Finding]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "where.yaml"
        path.write_text(text, encoding="utf-8")
        catalog = load_catalog([path], packs=False)
    return set(evaluate(spans.store.con, catalog, evidence=False).findings)


EXPECT = {
    correlate: f"""\
    expect:
      effect: email.sent
      correlate: {correlate}
    checks: [confirmed, before_done, effect_ok]
"""
    for correlate in ("trace", "link", "key")
}


@pytest.mark.parametrize("correlate", sorted(EXPECT))
@pytest.mark.parametrize("where", RUN_WHERES, ids=lambda w: w.text)
def test_a_jobs_where_on_run_and_span_columns_judges_the_runs_it_holds_for(
    captures: Spans, where: Where, correlate: str
) -> None:
    every = _found(captures, _rule(None, EXPECT[correlate]))
    expected = {f for f in every if where.holds(*captures.row("job_runs", f))}
    if "outcome" not in where.text:  # (that one proves a condition dropping nothing)
        assert expected < every, "the condition must drop a finding for the test to mean it"
    assert expected, "and keep one"

    assert _found(captures, _rule(where.text, EXPECT[correlate])) == expected


LOST = "    complete_within: 1m\n"


@pytest.mark.parametrize("where", ENQUEUE_WHERES, ids=lambda w: w.text)
def test_a_jobs_where_on_enqueue_and_span_columns_judges_the_enqueues_it_holds_for(
    captures: Spans, where: Where
) -> None:
    every = _found(captures, _rule(None, LOST))
    expected = {f for f in every if where.holds(*captures.row("enqueues", f))}

    assert _found(captures, _rule(where.text, LOST)) == expected


def test_the_enqueue_conditions_keep_the_lost_job_and_drop_it(captures: Spans) -> None:
    (lost,) = _found(captures, _rule(None, LOST))
    kept = [where.holds(*captures.row("enqueues", lost)) for where in ENQUEUE_WHERES]
    assert kept == [True, True, False, False]


def test_the_span_selector_fixture_whose_jobs_where_names_job_name_lints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["rules", "lint", str(DATA / "rules" / "good_span_selector.yaml")])

    assert code == 0, capsys.readouterr().err


def test_a_scan_with_a_jobs_where_on_run_columns_reports_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rule("attempt >= 1 AND queue LIKE 'emails-%'", EXPECT["trace"]))

    code = main(["scan", "--rules", str(rules), "--no-packs", str(capture("celery"))])

    assert code == 1, capsys.readouterr().err  # findings, not an internal error (70)
