"""The findings view's pure Arrow logic and the trace layout, without an app."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from auditor.findings.model import Finding, Kind, Severity, State
from tui import view as v
from tui.trace import align, broken_notes, lie_index, waterfall_rows

NOW = 10_000 * 10**9


def table() -> pa.Table:
    base = pa.table(
        {
            "fingerprint": ["a", "b", "c", "d"],
            "rule_id": ["mail-sent", "mail-sent", "pay-once", "jobs-run"],
            "kind": ["unconfirmed_done", "premature_done", "duplicate_effect", "lost_job"],
            "severity": ["high", "critical", "medium", "low"],
            "severity_rank": pa.array([3, 4, 2, 1], pa.int32()),
            "state": ["open", "open", "pending", "open"],
            "system": ["celery", "rq", "bullmq", "celery"],
            "job_name": ["send", "send", "charge", "send"],
            "job_id": ["1", "2", "3", "4"],
            "effect_key": ["ORD-1", "ORD-2", "PAY-3", ""],
            "service": ["w", "w", "n", "w"],
            "message": ["m1", "m2", "m3", "m4"],
            "triage": ["new", "new", "acknowledged", "new"],
            "done_at_ns": pa.array(
                [NOW - 30 * 10**9, NOW - 7200 * 10**9, None, NOW - 90000 * 10**9]
            ),
        }
    )
    return v.with_age(base, NOW)


def test_ages_read_as_a_person_says_them() -> None:
    assert table().column("age").to_pylist() == ["30s", "2h", "-", "1d"]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("", ["b", "a", "c", "d"]),
        ("sev:high,critical", ["b", "a"]),
        ("sev>=medium", ["b", "a", "c"]),
        ("rule:mail-*", ["b", "a"]),
        ("system:celery state:open", ["a", "d"]),
        ("age>1h", ["b", "d"]),
        ("age<1h", ["a"]),
        ("ord-2", ["b"]),
        ("triage:acknowledged", ["c"]),
    ],
)
def test_each_facet_keeps_what_it_says(text: str, kept: list[str]) -> None:
    view = v.build_view(table(), v.parse_query(text), NOW)
    assert view.rows.column("fingerprint").to_pylist() == kept


@pytest.mark.parametrize(
    ("text", "said"),
    [("sev:urgent", "not a severity"), ("colour:red", "no facet 'colour'"), ("age=3", "age>10m")],
)
def test_a_bad_term_says_what_is_wrong(text: str, said: str) -> None:
    with pytest.raises(v.FilterError, match=said):
        v.parse_query(text)


def test_the_caption_says_m_of_n_and_when_the_source_held_rows_back() -> None:
    view = v.build_view(table(), v.parse_query("sev:low"), NOW, capped_at=4)
    assert view.caption() == "1 of 4 findings (the source sent the first 4: more exist)"


def test_sorting_by_a_header_toggles_its_direction() -> None:
    first = v.toggled_sort(v.DEFAULT_SORT, "rule")
    assert first == (("rule_id", "descending"),)
    assert v.toggled_sort(first, "rule") == (("rule_id", "ascending"),)
    view = v.build_view(table(), v.parse_query(""), NOW, v.toggled_sort(first, "rule"))
    assert view.rows.column("rule_id").to_pylist()[0] == "jobs-run"


def test_completion_offers_facets_then_values_from_the_data() -> None:
    values = v.facet_values(table())
    assert v.complete("sys", values) == ["system:"]
    assert v.complete("kind:dup system:b", values) == ["kind:dup system:bullmq"]
    assert v.complete("rule:p", values) == ["rule:pay-once"]


def test_counts_and_histogram_cover_every_row() -> None:
    rows = table()
    assert [(c.rule_id, c.count) for c in v.rule_counts(rows)] == [
        ("mail-sent", 2), ("jobs-run", 1), ("pay-once", 1),
    ]  # fmt: skip
    assert sum(v.histogram(rows, 6)) == 3  # the finding with no time is not placed


def test_export_writes_the_filtered_rows(tmp_path: Path) -> None:
    view = v.build_view(table(), v.parse_query("system:celery"), NOW)
    done = v.export(view.rows, tmp_path / "out.csv")
    assert done.rows == 2
    assert pacsv.read_csv(tmp_path / "out.csv").column("fingerprint").to_pylist() == ["a", "d"]
    with pytest.raises(ValueError, match=r"\.csv, \.json or \.parquet"):
        v.export(view.rows, tmp_path / "out.xlsx")


def span(
    sid: str, parent: str, name: str, start: int, end: int, **extra: object
) -> dict[str, object]:
    return {"span_id": sid, "parent_span_id": parent, "name": name, "service": "w",
            "start_ns": start, "end_ns": end, "status": "Unset", **extra}  # fmt: skip


def finding(kind: Kind = Kind.UNCONFIRMED_DONE) -> Finding:
    return Finding(
        "mail-sent", kind, Severity.HIGH, State.OPEN, "celery", "1", "send", "ORD-1", "t",
        "said done", span_id="run", done_at_ns=90, effect_name="email.sent",
    )  # fmt: skip


def test_the_waterfall_nests_spans_and_puts_a_ghost_under_the_run_that_lied() -> None:
    spans = [span("root", "", "apply_async", 0, 10), span("run", "root", "run", 20, 90),
             span("smtp", "run", "smtp.send", 30, 40)]  # fmt: skip
    rows = waterfall_rows(spans, finding())
    assert [(r.name, r.depth) for r in rows][:3] == [
        ("apply_async", 0),
        ("run", 1),
        ("smtp.send", 2),
    ]
    assert rows[-1].ghost and rows[-1].depth == 2
    assert "done" in rows[1].marks
    assert lie_index(rows) == 3


def test_a_span_whose_parent_is_missing_is_said_in_words() -> None:
    spans = [span("run", "gone", "run", 0, 10)]
    notes = broken_notes(spans, finding())
    assert any("not in this trace" in n for n in notes)


def test_alignment_pairs_spans_by_name_and_flags_the_extra_ones() -> None:
    lying = waterfall_rows([span("a", "", "run", 0, 5), span("b", "", "run", 6, 9)], None)
    honest = waterfall_rows(
        [span("c", "", "run", 0, 5), span("d", "c", "side_effect.confirm", 1, 2)], None
    )
    pairs = align(lying, honest)
    assert [(p.name, p.lying is not None, p.honest is not None) for p in pairs] == [
        ("run", True, True), ("run", True, False), ("side_effect.confirm", False, True),
    ]  # fmt: skip
