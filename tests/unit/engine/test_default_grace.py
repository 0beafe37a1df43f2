"""audit.yaml's ``evaluation.grace`` is the grace of rules that set no ``within``."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.engine.catalog import load_catalog
from auditor.engine.evaluate import evaluate
from auditor.receivers.files import ingest_files
from auditor.rules.testing import BASE_TIME_NS, spans_to_request
from auditor.store.duck import DuckStore

RULE = """
rules:
  - id: email
    severity: high
    jobs: {system: celery}
    expect: {effect: email.sent}
"""

DONE_WITHOUT_EMAIL = [
    {
        "trace": "t1", "span": "run", "name": "run/tasks.send", "kind": "consumer",
        "start": "0ms", "end": "20ms",
        "attributes": {"celery.task_name": "tasks.send", "messaging.message.id": "j1",
                       "celery.state": "SUCCESS"},
    }
]  # fmt: skip


def _state(tmp_path: Path, grace_s: float) -> str:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    spans = tmp_path / "spans.jsonl"
    spans.write_text(json.dumps(spans_to_request(DONE_WITHOUT_EMAIL)) + "\n")
    with DuckStore(":memory:") as store:
        ingest_files(store, [str(spans)])
        as_of = BASE_TIME_NS + 60 * 10**9  # a minute after the job said done
        evaluation = evaluate(
            store.con, load_catalog([rules], packs=False), as_of_ns=as_of, default_within_s=grace_s
        )
    [finding] = evaluation.findings
    return str(finding.state)


def test_inside_the_configured_grace_an_unconfirmed_job_is_pending(tmp_path: Path) -> None:
    assert _state(tmp_path, grace_s=300) == "pending"


def test_past_the_configured_grace_an_unconfirmed_job_is_open(tmp_path: Path) -> None:
    assert _state(tmp_path, grace_s=30) == "open"
