"""Job traffic for the scan benchmark: the real captures' jobs, multiplied with fresh ids.

No shape is invented. Each job of ``tests/data/captures/{celery,rq,bullmq}`` (spans recorded
from real workers with their own instrumentation) becomes a *template*: every span of every
trace that mentions the job (its producer and consumer spans, ``smtp.send``,
``side_effect.confirm``, RQ's redis child spans, a Celery background thread's root traces, a
BullMQ stall event…), with the job id and the order key replaced by placeholders and times made
relative to the job's first span. Traces that mention no job (RQ's idle-loop redis commands,
BullMQ's worker lifecycle) are one more template per system, *noise*, copied once per as many
jobs as the capture had.

``generate`` draws jobs (a third per system) and a scenario for each (mostly honest; about
1.5% of jobs lying in each way, as ``SCENARIO_WEIGHTS`` says; ``lie_scale`` multiplies the
lying scenarios' shares, the honest ``ok`` share giving up the difference), copies the
templates in DuckDB with fresh trace / span / job ids and keys and shifted times, and writes
the spans into a store with ``DuckStore.insert`` (Arrow batches, in time order). It returns
the lies that the generated jobs hold, from the captures' ground truth, so a benchmark can
check its findings.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from auditor.otlp.batch import ARROW_SCHEMA, COLUMNS
from auditor.receivers.files import ingest_files
from auditor.store.duck import DuckStore

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "tests" / "data" / "captures"
SYSTEMS = ("celery", "rq", "bullmq")

# Attributes that hold a job's id, per system (the job.id the shop's spans carry included).
JOB_ID_KEYS = {
    "celery": ("messaging.message.id", "messaging.conversation_id", "job.id"),
    "rq": ("rq.job.id", "job.id"),
    "bullmq": ("bullmq.job.id", "job.id"),
}

# Share of jobs per scenario (the captures' scenario names). Honest: ok, retry_then_ok,
# failed, crash_first_delivery (and crash outside Celery: RQ and BullMQ record the failure).
SCENARIO_WEIGHTS = {
    "ok": 0.88,
    "retry_then_ok": 0.02,
    "failed": 0.02,
    "crash_first_delivery": 0.01,
    "skipped": 0.015,
    "swallowed": 0.015,
    "premature_sync": 0.0075,
    "premature_thread": 0.0075,
    "retry_duplicate": 0.015,
    "crash": 0.01,
}

JOB = "{{JOB}}"
KEY = "{{KEY}}"


@dataclass
class Template:
    system: str
    scenario: str  # or "noise"
    expected_kind: str | None
    spans: list[dict] = field(default_factory=list)


def _capture_rows(system: str) -> list[dict]:
    with DuckStore(":memory:") as store:
        summary = ingest_files(store, [str(CAPTURES / system / "traces.jsonl")])
        assert not summary.bad_lines and not summary.spans_rejected
        cols = ", ".join(f'"{c}"' for c in COLUMNS if c not in ("Timestamp", "Events.Timestamp"))
        return (
            store.con.sql(
                f'SELECT epoch_ns("Timestamp") AS ts_ns, '
                f'list_transform("Events.Timestamp", lambda x: epoch_ns(x)) AS ev_ns, {cols} '
                "FROM otel_traces"
            )
            .to_arrow_table()
            .to_pylist()
        )


def _mentions(row: dict, keys: tuple[str, ...], job_id: str) -> bool:
    attrs = json.loads(row["SpanAttributes"])
    if any(attrs.get(k) == job_id for k in keys):
        return True
    return any(any(json.loads(e).get(k) == job_id for k in keys) for e in row["Events.Attributes"])


def _placeholders(text: str, keys: tuple[str, ...], job_id: str, effect_key: str) -> str:
    """Job id values (under the system's id keys) and the order key → placeholders."""
    document = json.loads(text)

    def walk(value: object) -> object:
        if isinstance(value, dict):
            return {k: (JOB if k in keys and v == job_id else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            if len(job_id) > 8:  # uuids are unique: replace them wherever they appear
                value = value.replace(job_id, JOB)
            return value.replace(effect_key, KEY)
        return value

    return json.dumps(walk(document), separators=(",", ":"))


def templates() -> list[Template]:
    out: list[Template] = []
    for system in SYSTEMS:
        rows = _capture_rows(system)
        truth = json.loads((CAPTURES / system / "ground_truth.json").read_text())
        keys = JOB_ID_KEYS[system]
        traces_of: dict[str, set[str]] = defaultdict(set)  # job id -> trace ids
        claimed: set[str] = set()
        for job in truth:
            for row in rows:
                if _mentions(row, keys, job["job_id"]):
                    traces_of[job["job_id"]].add(row["TraceId"])
        for job in truth:
            # a trace that mentions two jobs (a stall checker reporting both) goes to the first
            mine = traces_of[job["job_id"]] - claimed
            claimed |= mine
            spans = []
            for row in rows:
                if row["TraceId"] not in mine:
                    continue
                row = dict(row)
                row["SpanAttributes"] = _placeholders(
                    row["SpanAttributes"], keys, job["job_id"], job["effect_key"]
                )
                row["Events.Attributes"] = [
                    _placeholders(e, keys, job["job_id"], job["effect_key"])
                    for e in row["Events.Attributes"]
                ]
                spans.append(row)
            out.append(Template(system, job["scenario"], job["expected_kind"], spans))
        noise = [dict(r) for r in rows if r["TraceId"] not in claimed]
        tmpl = Template(system, "noise", None, noise)
        tmpl.jobs_per_copy = len(truth)  # type: ignore[attr-defined]
        out.append(tmpl)
    return out


def _template_table(tmpls: list[Template]) -> pa.Table:
    rows = []
    for tid, t in enumerate(tmpls):
        if not t.spans:
            continue
        base = min(s["ts_ns"] for s in t.spans)
        for s in t.spans:
            rows.append(
                {
                    "tid": tid,
                    "rel_ns": s["ts_ns"] - base,
                    "ev_rel_ns": [e - base for e in s["ev_ns"]],
                    **{c: s[c] for c in COLUMNS if c not in ("Timestamp", "Events.Timestamp")},
                }
            )
    return pa.Table.from_pylist(rows)


@dataclass(frozen=True)
class Generated:
    spans: int
    jobs: dict[str, int]  # per system
    lies: set[tuple[str, str, str]]  # (system, job_id, kind)
    seconds: float


_COPY_SQL = """
SELECT
    make_timestamp_ns(p.base_ns + t.rel_ns) AS "Timestamp",
    md5(p.copy::VARCHAR || t."TraceId") AS "TraceId",
    substr(md5(p.copy::VARCHAR || t."SpanId"), 1, 16) AS "SpanId",
    CASE WHEN t."ParentSpanId" = '' THEN ''
         ELSE substr(md5(p.copy::VARCHAR || t."ParentSpanId"), 1, 16) END AS "ParentSpanId",
    t."TraceState", t."SpanName", t."SpanKind", t."ServiceName", t."ResourceAttributes",
    t."ScopeName", t."ScopeVersion",
    replace(replace(t."SpanAttributes", '{{JOB}}', p.job_id), '{{KEY}}', p.order_key) AS "SpanAttributes",
    t."Duration", t."StatusCode",
    replace(replace(t."StatusMessage", '{{JOB}}', p.job_id), '{{KEY}}', p.order_key) AS "StatusMessage",
    list_transform(t.ev_rel_ns, lambda x: make_timestamp_ns(p.base_ns + x)) AS "Events.Timestamp",
    t."Events.Name",
    list_transform(t."Events.Attributes",
                   lambda x: replace(replace(x, '{{JOB}}', p.job_id), '{{KEY}}', p.order_key)) AS "Events.Attributes",
    list_transform(t."Links.TraceId", lambda x: md5(p.copy::VARCHAR || x)) AS "Links.TraceId",
    list_transform(t."Links.SpanId", lambda x: substr(md5(p.copy::VARCHAR || x), 1, 16)) AS "Links.SpanId",
    t."Links.TraceState", t."Links.Attributes", t."Flags"
FROM plan AS p JOIN tmpl AS t ON t.tid = p.tid
SEMI JOIN win ON win.copy = p.copy
ORDER BY p.base_ns + t.rel_ns
"""


def scenario_weights(lying: set[str], lie_scale: float = 1.0) -> dict[str, float]:
    """``SCENARIO_WEIGHTS`` with the shares of the ``lying`` scenarios multiplied by
    ``lie_scale``; ``ok`` takes up the difference, so the other honest shares stay as they are.
    ``lie_scale=1.0`` gives ``SCENARIO_WEIGHTS`` itself (the same draws for the same seed)."""
    if lie_scale == 1.0:
        return dict(SCENARIO_WEIGHTS)
    weights = {s: w * lie_scale if s in lying else w for s, w in SCENARIO_WEIGHTS.items()}
    weights["ok"] = SCENARIO_WEIGHTS["ok"] - sum(weights[s] - SCENARIO_WEIGHTS[s] for s in lying)
    if lie_scale < 0 or weights["ok"] <= 0:
        raise ValueError(f"lie_scale {lie_scale} leaves no honest ok jobs")
    return weights


def generate(
    store: DuckStore,
    target_spans: int,
    seed: int = 7,
    start_ns: int | None = None,
    lie_scale: float = 1.0,
    gap_ns: int = 5_000_000,
) -> Generated:
    """Fill ``store`` with about ``target_spans`` spans of job traffic. ``lie_scale`` multiplies
    the share of every scenario that is a lie in some capture's ground truth. ``gap_ns``:
    the time between two jobs' starts (5 ms: ~12 000 jobs a minute across the systems)."""
    import time

    started = time.perf_counter()
    tmpls = templates()
    rng = random.Random(seed)
    by_system: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    noise: dict[str, int] = {}
    for tid, t in enumerate(tmpls):
        if t.scenario == "noise":
            noise[t.system] = tid
        else:
            by_system[t.system][t.scenario].append(tid)

    # spans per job on average, noise included, to size the plan
    per_job = {}
    for system in SYSTEMS:
        ts = [t for t in tmpls if t.system == system]
        per_job[system] = sum(len(t.spans) for t in ts) / sum(
            1 for t in ts if t.scenario != "noise"
        )
    n_jobs = int(target_spans / (sum(per_job.values()) / len(SYSTEMS)))

    shares = scenario_weights({t.scenario for t in tmpls if t.expected_kind}, lie_scale)
    scenarios = list(shares)
    weights = [shares[s] for s in scenarios]
    systems = [rng.randrange(len(SYSTEMS)) for _ in range(n_jobs)]
    picks = rng.choices(range(len(scenarios)), weights=weights, k=n_jobs)
    start_ns = start_ns or 1_800_000_000_000_000_000
    plan = {"copy": [], "tid": [], "base_ns": [], "job_id": [], "order_key": []}
    lies: set[tuple[str, str, str]] = set()
    jobs: dict[str, int] = defaultdict(int)
    noise_due: dict[str, int] = defaultdict(int)
    for i in range(n_jobs):
        system = SYSTEMS[systems[i]]
        scenario = scenarios[picks[i]]
        options = by_system[system][scenario]
        tid = rng.choice(options)
        if system == "bullmq":
            job_id = str(1_000_000 + i)
        else:
            h = f"{rng.getrandbits(64):016x}{i:016x}"
            job_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        plan["copy"].append(i)
        plan["tid"].append(tid)
        plan["base_ns"].append(start_ns + i * gap_ns)
        plan["job_id"].append(job_id)
        plan["order_key"].append(f"ORD-{i + 1:08d}")
        jobs[system] += 1
        if tmpls[tid].expected_kind:
            lies.add((system, job_id, tmpls[tid].expected_kind))
        noise_due[system] += 1
        if noise_due[system] == tmpls[noise[system]].jobs_per_copy:  # type: ignore[attr-defined]
            noise_due[system] = 0
            plan["copy"].append(n_jobs + i)
            plan["tid"].append(noise[system])
            plan["base_ns"].append(start_ns + i * gap_ns)
            plan["job_id"].append("")
            plan["order_key"].append("")

    gen = duckdb.connect()
    gen.register("tmpl_arrow", _template_table(tmpls))
    gen.execute("CREATE TABLE tmpl AS SELECT * FROM tmpl_arrow")
    gen.register("plan_arrow", pa.table(plan))
    gen.execute("CREATE TABLE plan AS SELECT * FROM plan_arrow ORDER BY base_ns")
    total = 0
    # windows of jobs in time order (noise copies sit beside the job that triggered them)
    order = sorted(range(len(plan["copy"])), key=lambda k: plan["base_ns"][k])
    step = 20_000
    for lo in range(0, len(order), step):
        window = [plan["copy"][k] for k in order[lo : lo + step]]
        gen.execute("CREATE OR REPLACE TEMP TABLE win AS SELECT unnest($w) AS copy", {"w": window})
        table = gen.sql(_COPY_SQL).to_arrow_table()
        table = table.cast(ARROW_SCHEMA)
        total += store.insert(table).stored
    gen.close()
    return Generated(total, dict(jobs), lies, time.perf_counter() - started)
