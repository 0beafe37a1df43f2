"""Rules → one SQL statement per rule (every check at once), built as sqlglot ASTs over the
derived tables.

Reads ``job_runs``, ``effects``, ``enqueues``, ``signals`` and ``error_spans`` (their
columns: ``auditor.tables``) and, for ``span:`` selectors and ``where:``, ``otel_traces``. Values
written in rule files are bound parameters (``$p1`` …); identifiers and JSON paths are
quoted AST nodes. Pure: nothing here touches a database.

Every job-centred query starts from the same three common table expressions:

``j``  the job runs the rule judges (any outcome; checks that judge "done" filter on it),
``e``  the effect spans the rule accepts as proof,
``m``  which effects belong to which run, by the rule's correlation:

- ``trace``: the effect is in the run's trace and carries no ``job.id`` or the run's; or it
  carries the run's ``job.id`` and sits in a trace with no job run at all (a thread the job
  started outside its context: its spans are roots of new traces);
- ``link``: a span link joins the effect's trace and the run's trace, either direction;
- ``key``: an attribute of the run equals an attribute of the effect.

The checks (DESIGN.md, "Finding kinds"):

- ``confirmed``: a done run with no ok effect in ``m``  → ``unconfirmed_done``;
- ``effect_ok``: such a run that has a failed effect in ``m``, or an error span in its trace
  during its run, keeps that failure as ``failed_effect`` instead;
- ``before_done``: a done run whose first ok effect ends after ``done_ns`` + tolerance
  → ``premature_done`` (a run that had any confirmation by then is honest);
- ``at_most_once``: ok effects in ``m`` grouped by name and key, more than one span
  → ``duplicate_effect`` (retries included: ``j`` holds every attempt);
- ``complete_within``: an enqueue with no job run of the same system and id → ``lost_job``.

``jobs.where`` names columns of the job's row (``job_runs``, or ``enqueues`` for
``complete_within``) and of its span (``otel_traces``): every column it names without a
table is qualified with the one it belongs to. A condition on the row alone filters the row;
one that reads the span joins the row's span (same TraceId and SpanId) in a SEMI JOIN whose
ON holds the condition: nothing is correlated, so DuckDB and ClickHouse both run it. A where
naming a column the judged rows lack (``attempt`` with ``complete_within``) never gets here:
the rule loader rejects it (``rules.build``). ``expect.span.where`` reads only the candidate
effect span, the one table of its query, and is spliced in as written.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from auditor.rules.model import Correlate, JobSelector, Rule, SpanSelector
from auditor.rules.where import columns_named, parse_where, qualified
from auditor.sqlbuild import (
    DUCKDB,
    Dialect,
    Params,
    alias,
    and_,
    col,
    eq,
    func,
    in_subquery,
    is_glob,
    join,
    lit,
    or_,
    select,
    select_reading_attributes_once,
    subquery,
    table,
)
from auditor.tables import CHECK_ROW, EFFECT_KEYS, ENQUEUES, JOB_KEYS, JOB_RUNS, OPTIONAL_COLUMNS

SPANS = "otel_traces"  # a jobs.where reads the run's (or enqueue's) span here

_KINDS = {k: k.capitalize() for k in ("internal", "server", "client", "producer", "consumer")}
_STATUS = {"ok": "Ok", "error": "Error", "unset": "Unset"}


@dataclass(frozen=True)
class CompiledCheck:
    check: str  # confirmed | before_done | at_most_once | effect_ok | complete_within | judged
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
                count = exp.Count(this=exp.Star())
                body = select(
                    *[
                        alias(exp.cast(exp.Null(), t, copy=False), c)
                        for c, t in CHECK_ROW
                        if c in _JUDGED and c != "check"
                    ],
                    *[
                        alias(count, c) if c == "detail_ns" else alias(exp.cast(exp.Null(), t), c)
                        for c, t in _JUDGED_PADDING
                    ],
                ).from_(subquery(body, "judged"), copy=False)
            elif name == "judged":
                padding = [alias(exp.cast(exp.Null(), t), c) for c, t in _JUDGED_PADDING]
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

    def shared_key(self, name: str) -> tuple[str, tuple[object, ...]] | None:
        """What makes shared table ``name`` the same in two rules: its SQL with parameters
        in order of appearance, and their values."""
        for table_name, query in self.common:
            if table_name == name:
                return _key(DUCKDB.render(query, pretty=False), self.all_params)
        return None


_PARAMETER = re.compile(r"\$(p\d+)")  # a bound parameter in rendered SQL: $p1, $p2, …


def _key(sql: str, params: dict[str, object]) -> tuple[str, tuple[object, ...]]:
    order = _PARAMETER.findall(sql)
    return _PARAMETER.sub("?", sql), tuple(params[p] for p in order)


def effects_key(rule: Rule, dialect: Dialect = DUCKDB) -> tuple[str, tuple[object, ...]] | None:
    """``compile_rule(rule).shared_key("e")`` without compiling the rest of the rule: what the
    engine groups rules by to make one effects table for those that accept the same spans."""
    if rule.expect is None or all(c == "complete_within" for c in rule.checks):
        return None
    b = _Build(rule, dialect)
    return _key(dialect.render(_effects(b), pretty=False, consume=True), b.params.values)


@dataclass
class _Build:
    rule: Rule
    dialect: Dialect
    params: Params = field(default_factory=Params)

    @property
    def d(self) -> Dialect:
        return self.dialect

    def bind(self, value: object) -> exp.Expression:
        return self.params.bind(value)

    def text_match(self, value: exp.Expression, pattern: str) -> exp.Expression:
        if is_glob(pattern):
            return self.d.glob(value, self.bind(pattern))
        return eq(value, self.bind(pattern))


# ----------------------------------------------------------------------------- job side


def _where(where: str, a: str, *, enqueues: bool) -> tuple[exp.Expression | None, exp.Join | None]:
    """The rule's ``jobs.where`` on row ``a`` of ``job_runs`` (or ``enqueues``): a column of
    that table reads the row, any other column the row's own span in otel_traces. Returns
    the condition for the row's WHERE when it reads only the row, else a SEMI JOIN of the
    row's span on (TraceId, SpanId) whose ON holds it: never a subquery correlated with the
    row (the where names both; DuckDB cannot run a correlated multi-column IN, and
    ClickHouse runs no correlated subquery)."""
    columns = ENQUEUES.names if enqueues else JOB_RUNS.names
    condition = qualified(parse_where(where), lambda name: a if name in columns else SPANS)
    if not any(c.table == SPANS for c in condition.find_all(exp.Column)):
        return condition, None
    on = and_(
        eq(col(SPANS, "TraceId"), col(a, "trace_id")),
        eq(col(SPANS, "SpanId"), col(a, "span_id")),
        condition,
    )
    return None, join("semi", table(SPANS), on)


def _job_filter(
    b: _Build, jobs: JobSelector, a: str, *, enqueues: bool = False
) -> tuple[exp.Expression, exp.Join | None]:
    """The job selector on a ``job_runs`` row (or an ``enqueues`` row, which has no attempt):
    the row's condition, and the join its ``where:`` needs when it reads the row's span."""
    parts: list[exp.Expression | None] = []
    if jobs.system:
        parts.append(b.text_match(col(a, "system"), jobs.system))
    if jobs.name:
        parts.append(b.text_match(col(a, "job_name"), jobs.name))
    if jobs.queue:
        parts.append(b.text_match(col(a, "queue"), jobs.queue))
    for key, value in jobs.attributes:
        column = JOB_KEYS.get(key)
        if enqueues and column == "attempt":
            column = None
        read = col(a, column) if column else b.d.attr(a, key, "attributes")
        if column == "attempt":
            read = exp.cast(read, "VARCHAR", copy=False)
        parts.append(eq(read, b.bind(value)))
    spans = None
    if jobs.where:
        condition, spans = _where(jobs.where, a, enqueues=enqueues)
        parts.append(condition)
    return and_(*parts), spans


def _selected(
    query: exp.Select, b: _Build, a: str, *more: exp.Expression, enqueues: bool = False
) -> exp.Select:
    """``query`` (reading row ``a``) narrowed to the jobs the rule's selector chooses, and to
    the conditions ``more`` before it."""
    condition, spans = _job_filter(b, b.rule.jobs, a, enqueues=enqueues)
    if spans is not None:
        query = query.join(spans, copy=False)
    return query.where(and_(*more, condition), copy=False)


def _declared(b: _Build) -> bool:
    expect = b.rule.expect
    return expect is not None and expect.declared


def _job_runs(b: _Build) -> exp.Select:
    """``j``: the runs the rule judges, with ``expected`` = the effect name each must prove."""
    a = "r"
    declared: list[exp.Expression] = []
    if _declared(b):
        listed = col(a, "expected_effects")
        names = exp.Case(
            ifs=[exp.If(this=func("starts_with", listed, lit("[")),
                        true=func("from_json", listed, lit('["VARCHAR"]')))],
            default=func("string_split", listed, lit(",")),
        )  # fmt: skip
        expected = func("trim", func("unnest", names))
        declared.append(exp.NEQ(this=listed.copy(), expression=lit("")))
    else:
        expected = lit("")
    query = select(*[col(a, c) for c in _j_columns(b)], alias(expected, "expected")).from_(
        table("job_runs", a), copy=False
    )
    return _selected(query, b, a, *declared)


_J_BASE = (
    "system", "job_id", "job_name", "queue", "attempt", "outcome", "done_ns", "start_ns",
    "end_ns", "trace_id", "span_id", "service", "signals",
)  # fmt: skip
_E_BASE = (
    "effect_name", "effect_key", "job_id", "system", "ok", "start_ns", "end_ns", "trace_id",
    "span_id", "span_name", "status_message", "service",
)  # fmt: skip


def _needs_attributes(b: _Build, side: str) -> bool:
    """Does the rule read a non-normalized attribute of the job (or effect) side's row?"""
    expect = b.rule.expect
    if expect is None or expect.key is None:
        return False
    if side == "job":
        return expect.key.job not in JOB_KEYS
    return expect.key.effect not in EFFECT_KEYS


def _j_columns(b: _Build) -> tuple[str, ...]:
    """The job_runs columns ``j`` carries: only what the checks read (copying the attribute
    JSON of every run into each rule's tables was most of a rule's cost)."""
    extra = ("link_trace_ids",) if _link(b) else ()
    return _J_BASE + extra + (("attributes",) if _needs_attributes(b, "job") else ())


def _e_columns(b: _Build) -> tuple[str, ...]:
    extra = ("link_trace_ids",) if _link(b) else ()
    return _E_BASE + extra + (("attributes",) if _needs_attributes(b, "effect") else ())


def optional_columns(rule: Rule) -> frozenset[tuple[str, str]]:
    """The (table, column) pairs of OPTIONAL_COLUMNS that ``rule``'s SQL reads. A column
    missed here fails loudly (the statement does not bind), never silently."""
    b = _Build(rule, DUCKDB)
    read: set[tuple[str, str]] = set()
    if _link(b):
        read |= {("job_runs", "link_trace_ids"), ("effects", "link_trace_ids")}
    if rule.expect is not None and _needs_attributes(b, "job"):
        read.add(("job_runs", "attributes"))
    if rule.expect is not None and _needs_attributes(b, "effect"):
        read.add(("effects", "attributes"))
    for key, _ in rule.jobs.attributes:  # what _job_filter reads, on runs and on enqueues
        column = JOB_KEYS.get(key)
        read.add(("job_runs", column or "attributes"))
        read.add(("enqueues", "attributes" if column in (None, "attempt") else column))
    if rule.jobs.where:  # the row's columns a where names (the others are its span's)
        named = columns_named(rule.jobs.where)
        read |= {("job_runs", c) for c in named if c in JOB_RUNS.names}
        read |= {("enqueues", c) for c in named if c in ENQUEUES.names}
    return frozenset(
        (table, column) for table, column in read if column in OPTIONAL_COLUMNS.get(table, ())
    )


def _link(b: _Build) -> bool:
    return b.rule.expect is not None and b.rule.expect.correlate is Correlate.LINK


# ----------------------------------------------------------------------------- effect side


def _span_filter(b: _Build, s: SpanSelector, a: str) -> exp.Expression:
    parts: list[exp.Expression] = []
    if s.name:
        parts.append(b.text_match(col(a, "SpanName"), s.name))
    if s.kind:
        parts.append(eq(col(a, "SpanKind"), lit(_KINDS[s.kind])))
    if s.status == "ok":  # "ok" means did not fail: instrumentations leave success Unset
        parts.append(exp.NEQ(this=col(a, "StatusCode"), expression=lit("Error")))
    elif s.status:
        parts.append(eq(col(a, "StatusCode"), lit(_STATUS[s.status])))
    for key, value in s.attributes:
        parts.append(eq(b.d.attr(a, key), b.bind(value)))
    if s.where:
        parts.append(parse_where(s.where))
    return and_(*parts)


def _effects(b: _Build) -> exp.Select:
    """``e``: the effect spans this rule accepts, in the ``effects`` table's columns."""
    expect = b.rule.expect
    assert expect is not None
    if expect.span is None:
        a = "f"
        query = select(*[col(a, c) for c in _e_columns(b)]).from_(table("effects", a), copy=False)
        if _declared(b):
            return query
        return query.where(b.text_match(col(a, "effect_name"), expect.effect or ""), copy=False)
    a = "s"
    d = b.d
    key_attr = expect.key.effect if expect.key is not None else "side_effect.key"
    columns = {
        "effect_name": col(a, "SpanName"),
        "effect_key": d.attr(a, key_attr if key_attr not in ("job.id",) else "side_effect.key"),
        "job_id": d.attr(a, "job.id"),
        "system": d.attr(a, "job.system"),
        "ok": exp.NEQ(this=col(a, "StatusCode"), expression=lit("Error")),
        "start_ns": d.epoch_ns(col(a, "Timestamp")),
        "end_ns": d.end_ns(a),
        "trace_id": col(a, "TraceId"),
        "span_id": col(a, "SpanId"),
        "parent_span_id": col(a, "ParentSpanId"),
        "service": col(a, "ServiceName"),
        "span_name": col(a, "SpanName"),
        "status_message": col(a, "StatusMessage"),
        "attributes": col(a, "SpanAttributes"),
        "link_trace_ids": col(a, "Links.TraceId"),
        "batch_id": col(a, "BatchId"),
    }
    return select_reading_attributes_once(
        [alias(columns[k], k) for k in _e_columns(b)],
        a,
        table("otel_traces", a),
        _span_filter(b, expect.span, a),
        d,
    )


# ----------------------------------------------------------------------------- matching


def _job_side(b: _Build, key: str) -> exp.Expression:
    column = JOB_KEYS.get(key)
    return col("j", column) if column else b.d.attr("j", key, "attributes")


def _effect_side(b: _Build, key: str) -> exp.Expression:
    column = EFFECT_KEYS.get(key)
    return col("e", column) if column else b.d.attr("e", key, "attributes")


_M_JOB = ("trace_id", "span_id", "expected", "outcome", "job_id", "system")


def _m_select(from_: exp.Expression, joins: list[exp.Join], where: exp.Expression) -> exp.Select:
    cols = [alias(col("j", c), f"j_{c}") for c in _M_JOB]
    query = select(
        *cols, exp.Column(this=exp.Star(), table=exp.to_identifier("e", quoted=True))
    ).from_(from_, copy=False)
    for j in joins:
        query = query.join(j, copy=False)
    return query.where(where, copy=False)


def _matches(b: _Build) -> exp.Expression:
    """``m``: (run, effect) pairs that the rule's correlation joins."""
    expect = b.rule.expect
    assert expect is not None
    j_tab, e_tab = table("j", "j"), table("e", "e")
    same_name = eq(col("e", "effect_name"), col("j", "expected")) if _declared(b) else None
    own_or_unowned = exp.Paren(
        this=or_(eq(col("e", "job_id"), lit("")), eq(col("e", "job_id"), col("j", "job_id")))
    )

    if expect.correlate is Correlate.KEY:
        assert expect.key is not None
        job_side, effect_side = _job_side(b, expect.key.job), _effect_side(b, expect.key.effect)
        return _m_select(
            j_tab, [join("inner", e_tab, eq(effect_side, job_side))],
            and_(exp.NEQ(this=effect_side.copy(), expression=lit("")), same_name),
        )  # fmt: skip

    if expect.correlate is Correlate.LINK:
        linked_e = select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("x", quoted=True)),
            alias(func("unnest", col("x", "link_trace_ids")), "linked"),
        ).from_(table("e", "x"), copy=False)
        linked_j = select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("y", quoted=True)),
            alias(func("unnest", col("y", "link_trace_ids")), "linked"),
        ).from_(table("j", "y"), copy=False)
        forward = _m_select(
            j_tab, [join("inner", subquery(linked_e, "e"), eq(col("e", "linked"), col("j", "trace_id")))],
            and_(own_or_unowned, same_name),
        )  # fmt: skip
        backward = _m_select(
            subquery(linked_j, "j"), [join("inner", e_tab, eq(col("e", "trace_id"), col("j", "linked")))],
            and_(own_or_unowned.copy(), same_name.copy() if same_name else None),
        )  # fmt: skip
        # and, as always, effects in the run's own trace (the job's code runs there)
        own = _m_select(
            j_tab.copy(), [join("inner", e_tab.copy(), eq(col("e", "trace_id"), col("j", "trace_id")))],
            and_(own_or_unowned.copy(), same_name.copy() if same_name else None),
        )  # fmt: skip
        # the effect columns differ by the extra "linked" column: select the common ones
        return exp.union(
            exp.union(_strip_linked(b, forward), _strip_linked(b, backward), distinct=False),
            _strip_linked(b, own),
            distinct=False,
        )

    in_trace = _m_select(
        j_tab,
        [join("inner", e_tab, eq(col("e", "trace_id"), col("j", "trace_id")))],
        and_(own_or_unowned, same_name),
    )
    runs_traces = select(col(None, "trace_id")).from_(table("job_runs"), copy=False)
    orphan = _m_select(
        j_tab.copy(), [join("inner", e_tab.copy(), eq(col("e", "job_id"), col("j", "job_id")))],
        and_(
            exp.NEQ(this=col("e", "job_id"), expression=lit("")),
            exp.Paren(this=or_(eq(col("e", "system"), lit("")), eq(col("e", "system"), col("j", "system")))),
            exp.Not(this=in_subquery([col("e", "trace_id")], runs_traces)),
            same_name.copy() if same_name else None,
        ),
    )  # fmt: skip
    return exp.union(in_trace, orphan, distinct=False)


def _strip_linked(b: _Build, query: exp.Select) -> exp.Select:
    """Replace ``e.*`` with the effect columns (the link subquery adds ``linked``)."""
    expressions = [
        x
        for x in query.expressions
        if not (isinstance(x, exp.Column) and isinstance(x.this, exp.Star))
    ]
    expressions += [col("e", c) for c in _e_columns(b)]
    query.set("expressions", expressions)
    return query


# ----------------------------------------------------------------------------- checks


def _unit_on(left: str, right: str) -> exp.Expression:
    """Join condition: the row of ``right`` (columns j_trace_id, j_span_id, j_expected)
    belongs to the run unit ``left`` (a ``j`` row)."""
    return and_(
        eq(col(right, "j_trace_id"), col(left, "trace_id")),
        eq(col(right, "j_span_id"), col(left, "span_id")),
        eq(col(right, "j_expected"), col(left, "expected")),
    )


def _unit_group(query: exp.Select, *extra: exp.Expression) -> exp.Select:
    return query.group_by(
        col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"), *extra, copy=False
    )


def _job_result(
    effect_name: exp.Expression,
    effect_key: exp.Expression,
    related: exp.Expression,
    detail: exp.Expression,
    note: exp.Expression,
) -> list[exp.Expression]:
    base = [
        alias(col("j", c), c)
        for c in (
            "system",
            "job_id",
            "job_name",
            "queue",
            "attempt",
            "done_ns",
            "start_ns",
            "end_ns",
            "trace_id",
            "span_id",
            "service",
            "signals",
        )
    ]
    return [*base, alias(effect_name, "effect_name"), alias(effect_key, "effect_key"),
            alias(related, "related"), alias(detail, "detail_ns"), alias(note, "note")]  # fmt: skip


def _expected_name(b: _Build) -> exp.Expression:
    expect = b.rule.expect
    assert expect is not None
    if _declared(b):
        return col("j", "expected")
    if expect.span is not None:
        return b.bind(expect.span.name or "")
    return b.bind(expect.effect or "")


def _empty_list() -> exp.Expression:
    return exp.cast(exp.Array(expressions=[]), "VARCHAR[]", copy=False)


def _span_ref(a: str, trace: str = "trace_id", span: str = "span_id") -> exp.Expression:
    return exp.DPipe(
        this=exp.DPipe(this=col(a, trace), expression=lit("/")), expression=col(a, span)
    )


def _failed_set(b: _Build) -> exp.Expression:
    """Per run unit: the spans that show its effect failed (effect spans in error, and —
    for a specific expected effect — error spans of its trace during the run)."""
    failed_effects = select(
        col("m", "j_trace_id"), col("m", "j_span_id"), col("m", "j_expected"),
        alias(_span_ref("m"), "ref"), alias(col("m", "span_name"), "name"),
        alias(col("m", "status_message"), "message"), alias(col("m", "effect_key"), "key"),
    ).from_(table("m", "m"), copy=False).where(exp.Not(this=col("m", "ok")), copy=False)  # fmt: skip
    expect = b.rule.expect
    assert expect is not None
    specific = _declared(b) or expect.span is not None or not is_glob(expect.effect or "")
    if not specific:
        return failed_effects
    x = "x"
    swallowed = select(
        alias(col("j", "trace_id"), "j_trace_id"), alias(col("j", "span_id"), "j_span_id"),
        alias(col("j", "expected"), "j_expected"), alias(_span_ref(x), "ref"),
        alias(col(x, "span_name"), "name"), alias(col(x, "status_message"), "message"),
        alias(lit(""), "key"),
    ).from_(table("j", "j"), copy=False).join(
        join("inner", table("error_spans", x), eq(col(x, "trace_id"), col("j", "trace_id")))
    , copy=False).where(and_(
        eq(col("j", "outcome"), lit("done")),
        exp.NEQ(this=col(x, "span_id"), expression=col("j", "span_id")),
        exp.GTE(this=col(x, "start_ns"), expression=col("j", "start_ns")),
        exp.LTE(this=col(x, "start_ns"), expression=col("j", "end_ns")),
        exp.Paren(this=or_(eq(col(x, "job_id"), lit("")), eq(col(x, "job_id"), col("j", "job_id")))),
    ), copy=False)  # fmt: skip
    return exp.union(failed_effects, swallowed, distinct=False)


def _confirmed_units() -> exp.Select:
    return _unit_group(
        select(col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"))
        .from_(table("m"), copy=False)
        .where(col(None, "ok"), copy=False)
    )


def _unconfirmed(b: _Build, *, failed: bool) -> exp.Select:
    """Done runs with no ok effect; with ``failed`` the ones whose failure shows, otherwise
    (when ``effect_ok`` is also checked) the ones whose failure does not."""
    include_failed_check = "effect_ok" in b.rule.checks
    f = "f"
    failures = _unit_group(
        select(
            col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"),
            alias(b.d.list_agg(col(None, "ref")), "refs"),
            alias(exp.Max(this=col(None, "key")), "key"),
            alias(exp.Min(this=exp.DPipe(this=exp.DPipe(this=col(None, "name"), expression=lit(": ")), expression=col(None, "message"))), "why"),
        ).from_(table("failed"), copy=False)
    )  # fmt: skip
    query = (
        select(*_job_result(
            _expected_name(b),
            col(f, "key") if failed else lit(""),
            col(f, "refs") if failed else _empty_list(),
            exp.cast(exp.Null(), "BIGINT", copy=False),
            col(f, "why") if failed else lit(""),
        ))
        .from_(table("j", "j"), copy=False)
        .join(join("anti", table("confirmed", "c"), _unit_on("j", "c")), copy=False)
    )  # fmt: skip
    if failed:
        query = query.join(join("inner", table("failures", f), _unit_on("j", f)), copy=False)
    elif include_failed_check:
        query = query.join(join("anti", table("failures", f), _unit_on("j", f)), copy=False)
    query = query.where(eq(col("j", "outcome"), lit("done")), copy=False)
    query = query.with_("confirmed", as_=_confirmed_units(), copy=False)
    if failed or include_failed_check:
        query = query.with_("failed", as_=_failed_set(b), copy=False)
        query = query.with_("failures", as_=failures, copy=False)
    return query


def _premature(b: _Build) -> exp.Select:
    expect = b.rule.expect
    assert expect is not None
    tolerance_ns = round(expect.tolerance_s * 1e9)
    first = _unit_group(
        select(
            col(None, "j_trace_id"), col(None, "j_span_id"), col(None, "j_expected"),
            alias(exp.Min(this=col(None, "end_ns")), "first_end"),
            alias(exp.ArgMin(this=_span_ref("m"), expression=col(None, "end_ns")), "ref"),
            alias(exp.ArgMin(this=col(None, "effect_key"), expression=col(None, "end_ns")), "key"),
        ).from_(table("m", "m"), copy=False).where(col(None, "ok"), copy=False)
    )  # fmt: skip
    gap = exp.Sub(this=col("f", "first_end"), expression=col("j", "done_ns"))
    return (
        select(*_job_result(
            _expected_name(b), col("f", "key"), exp.Array(expressions=[col("f", "ref")]), gap, lit(""),
        ))
        .from_(table("j", "j"), copy=False)
        .join(join("inner", table("first_ok", "f"), _unit_on("j", "f")), copy=False)
        .where(and_(
            eq(col("j", "outcome"), lit("done")),
            exp.GT(this=col("f", "first_end"), expression=exp.Add(this=col("j", "done_ns"), expression=b.bind(tolerance_ns))),
        ), copy=False)
        .with_("first_ok", as_=first, copy=False)
    )  # fmt: skip


def _duplicates(b: _Build) -> exp.Select:
    """One row per (effect name, key) confirmed by more than one span. The keys that repeat
    are found first with plain aggregates (two spans differ when the least and greatest
    span id do): the DISTINCT aggregates of the result, each a hash table of its own, then
    see only their spans, not every confirmation of the rule."""
    distinct_spans = exp.Count(this=exp.Distinct(expressions=[col(None, "span_id")]))

    def keyed(*more: exp.Expression) -> exp.Expression:
        ok = col(None, "ok")
        return and_(ok, exp.NEQ(this=col(None, "effect_key"), expression=lit("")), *more)

    names = (col(None, "effect_name"), col(None, "effect_key"))
    repeated = in_subquery(
        [c.copy() for c in names],
        select(*names)
        .from_(table("m"), copy=False)
        .where(keyed(), copy=False)
        .group_by(*[c.copy() for c in names], copy=False)
        .having(
            exp.NEQ(
                this=exp.Min(this=col(None, "span_id")),
                expression=exp.Max(this=col(None, "span_id")),
            ),
            copy=False,
        ),
    )
    query = (
        select(
            alias(exp.Min(this=col(None, "j_system")), "system"),
            alias(b.d.string_agg_distinct(col(None, "j_job_id")), "job_id"),
            alias(lit(""), "job_name"), alias(lit(""), "queue"),
            alias(exp.cast(exp.Null(), "BIGINT", copy=False), "attempt"),
            alias(exp.cast(exp.Null(), "BIGINT", copy=False), "done_ns"),
            alias(exp.Min(this=col(None, "start_ns")), "start_ns"),
            alias(exp.Max(this=col(None, "end_ns")), "end_ns"),
            alias(exp.Min(this=col(None, "trace_id")), "trace_id"),
            alias(lit(""), "span_id"), alias(exp.Min(this=col(None, "service")), "service"),
            alias(lit(""), "signals"),
            alias(col(None, "effect_name"), "effect_name"), alias(col(None, "effect_key"), "effect_key"),
            alias(b.d.list_agg_distinct(_span_ref("d")), "related"),
            alias(distinct_spans, "detail_ns"), alias(lit(""), "note"),
        )
        .from_(subquery(
            select(exp.Star()).from_(table("m")).where(keyed(repeated), copy=False),
            "d",
        ))
        .group_by(col(None, "effect_name"), col(None, "effect_key"), copy=False)
    )  # fmt: skip
    return query


def _lost(b: _Build) -> exp.Select:
    q = "q"
    signals = (
        select(
            col(None, "system"), col(None, "job_id"),
            alias(b.d.string_agg_distinct(col(None, "signal")), "names"),
            alias(b.d.list_agg(_span_ref("g")), "refs"),
        )
        .from_(table("signals", "g"), copy=False)
        .group_by(col(None, "system"), col(None, "job_id"), copy=False)
    )  # fmt: skip
    runs = select(col(None, "system"), col(None, "job_id")).from_(table("job_runs"), copy=False)
    query = (
        select(
            *[alias(col(q, c), c) for c in ("system", "job_id", "job_name", "queue")],
            alias(exp.cast(exp.Null(), "BIGINT", copy=False), "attempt"),
            alias(exp.cast(exp.Null(), "BIGINT", copy=False), "done_ns"),
            alias(col(q, "enqueued_ns"), "start_ns"), alias(col(q, "enqueued_ns"), "end_ns"),
            alias(col(q, "trace_id"), "trace_id"), alias(col(q, "span_id"), "span_id"),
            alias(col(q, "service"), "service"),
            alias(exp.Coalesce(this=col("g", "names"), expressions=[lit("")]), "signals"),
            alias(lit(""), "effect_name"), alias(lit(""), "effect_key"),
            alias(exp.Coalesce(this=col("g", "refs"), expressions=[_empty_list()]), "related"),
            alias(exp.cast(exp.Null(), "BIGINT", copy=False), "detail_ns"), alias(lit(""), "note"),
        )
        .from_(table("enqueues", q), copy=False)
        .join(join("anti", subquery(runs, "r"), and_(eq(col("r", "system"), col(q, "system")), eq(col("r", "job_id"), col(q, "job_id")))), copy=False)
        .join(join("left", subquery(signals, "g"), and_(eq(col("g", "system"), col(q, "system")), eq(col("g", "job_id"), col(q, "job_id")))), copy=False)
    )  # fmt: skip
    return _selected(query, b, q, enqueues=True)


# the judged query's rows, (system, job_id, job_name), are padded to the checks' columns
_JUDGED = ("check", "system", "job_id", "job_name")
_JUDGED_PADDING = tuple((c, t) for c, t in CHECK_ROW if c not in _JUDGED)


def _judged(b: _Build) -> exp.Select:
    """(system, job_id, job_name) of every job the rule judges; reads ``j`` when it expects
    an effect, the enqueues otherwise."""
    if b.rule.expect is not None:
        query = (
            select(col("j", "system"), col("j", "job_id"), col("j", "job_name"))
            .from_(table("j", "j"), copy=False)
            .where(eq(col("j", "outcome"), lit("done")), copy=False)
        )
    else:
        query = _selected(
            select(col("q", "system"), col("q", "job_id"), col("q", "job_name")).from_(
                table("enqueues", "q"), copy=False
            ),
            b,
            "q",
            enqueues=True,
        )
    return query.distinct()


def _used(params: dict[str, object], query: exp.Expression) -> dict[str, object]:
    names = {p.name for p in query.find_all(exp.Placeholder)}
    return {k: v for k, v in params.items() if k in names}


def params_in(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters that rendered ``sql`` uses (``$p1``…)."""
    names = set(_PARAMETER.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def compile_rule(rule: Rule, dialect: Dialect = DUCKDB) -> CompiledRule:
    """The shared tables ``j``, ``e``, ``m`` (``common``) and each check's query over them
    (``CompiledCheck.body``), which ``CompiledRule.batch`` makes one statement of."""
    b = _Build(rule, dialect)
    common: list[tuple[str, exp.Expression]] = []
    if rule.expect is not None:
        common.append(("j", _job_runs(b)))
        if any(c != "complete_within" for c in rule.checks):
            common += [("e", _effects(b)), ("m", _matches(b))]
    shared = tuple(common)
    checks: list[CompiledCheck] = []
    for check in rule.checks:
        if check == "confirmed":
            body = _unconfirmed(b, failed=False)
        elif check == "effect_ok":
            body = _unconfirmed(b, failed=True)
        elif check == "before_done":
            body = _premature(b)
        elif check == "at_most_once":
            body = _duplicates(b)
        elif check == "complete_within":
            body = _lost(b)
        else:  # pragma: no cover - the model only holds known checks
            raise ValueError(f"unknown check {check!r}")
        checks.append(CompiledCheck(check, body, b.params.values))
    judged = CompiledCheck("judged", _judged(b), b.params.values)
    return CompiledRule(rule, tuple(checks), judged, shared, b.params.values)


EffectsKey = tuple[str, tuple[object, ...]]  # what effects_key returns for a rule


def statement_for(
    rule: Rule,
    *,
    judged: str = "count",
    tables: dict[str, str] | None = None,
    dialect: Dialect = DUCKDB,
    pretty: bool = False,
) -> tuple[str, dict[str, object]]:
    """The statement the engine runs for ``rule`` (``CompiledRule.batch``) as text, with its
    parameters. The engine executes it with ``pretty=False``; ``audit rules explain`` and the
    golden tests print it pretty, the same statement laid out on lines."""
    query, params = compile_rule(rule, dialect).batch(judged=judged, consume=True, tables=tables)
    return dialect.render(query, pretty=pretty, consume=True), params


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
