"""The profile value forms that read a span's own ids and a part of a text: ``{span: id}``,
``{span: parent}`` and ``{after: SEPARATOR, of: VALUE}`` (what the Temporal profile names jobs
and joins a scheduled activity to its attempts with)."""

from __future__ import annotations

import yaml

from auditor.engine.catalog import load_catalog
from auditor.profiles.loader import build_profile
from tests.unit.engine.scanning import derived, store_with_spans

_PROFILE = """
systems:
  - id: demo
    runs:
      - match: {name: "Run:*"}
        job_id: {join: [wf, {span: parent}]}
        job_name: {after: ":", of: {span: name}}
    enqueues:
      - match: {name: ["Start:*", "Plain"]}
        job_id: {join: [wf, {span: id}]}
        job_name: {after: ":", of: {span: name}}
"""

_SPANS = [
    {"trace": "t1", "span": "aaaaaaaaaaaaaaaa", "name": "Start:send_receipt", "start": "0s",
     "end": "0s", "attributes": {"wf": "order-1"}},
    {"trace": "t1", "span": "bbbbbbbbbbbbbbbb", "parent": "aaaaaaaaaaaaaaaa",
     "name": "Run:send_receipt", "start": "1s", "end": "2s", "attributes": {"wf": "order-1"}},
    {"trace": "t2", "span": "cccccccccccccccc", "name": "Plain", "start": "0s", "end": "0s",
     "attributes": {"wf": "order-2"}},
]  # fmt: skip


def test_a_run_and_its_enqueue_share_the_id_made_of_span_id_and_parent_id() -> None:
    builtin = load_catalog([], packs=False).profiles  # (a profile set with no effects shape
    # at all cannot be derived: the built-ins bring theirs; none of them claims these spans)
    profiles = [*builtin, *(build_profile(raw) for raw in yaml.safe_load(_PROFILE)["systems"])]
    tables = derived(store_with_spans(_SPANS), profiles)

    runs = {(r["job_id"], r["job_name"]) for r in tables["job_runs"]}
    enqueues = {(e["job_id"], e["job_name"]) for e in tables["enqueues"]}
    assert runs == {("order-1/aaaaaaaaaaaaaaaa", "send_receipt")}
    # the part after the separator; the whole text when there is no separator
    assert enqueues == {
        ("order-1/aaaaaaaaaaaaaaaa", "send_receipt"),
        ("order-2/cccccccccccccccc", "Plain"),
    }
