"""``audit rules suggest``, driven as a user drives it: the installed ``audit`` in a
subprocess, on the real captures. The rule file it writes must pass ``audit rules lint``, and
scanning the same traffic with it (and nothing else) must find the lies the capture's
``ground_truth.json`` lists for that job: what a person reviewing it is promised.

The captures are small and lie on purpose (a third of their runs), so the tests pass
``--min-runs 5 --min-ratio 0.6``; the defaults are for real traffic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from auditor.rules.testing import spans_to_request
from tests.integration.scan.test_gate import CELERY, _one_error_line, audit
from tests.unit.engine.scanning import CAPTURES, SYSTEMS, capture, ground_truth_entries

LEARN = ("--min-runs", "5", "--min-ratio", "0.6")
JOB = {  # the job name of each capture's scenarios, as its system reports it
    "celery": "shop.send_order_confirmation",
    "rq": "tests.systems.shop.rq_jobs.send_order_confirmation",
    "bullmq": "send-order-confirmation",
}


def lies_of(system: str, job_name: str) -> set[tuple[str, str]]:
    """(job_id, kind) of the job's runs that lied, by the capture's ground truth. A lost job
    has no run: only an enqueue rule (complete_within), which suggest does not write,
    finds it."""
    return {
        (e["job_id"], e["expected_kind"])
        for e in ground_truth_entries(CAPTURES / system / "ground_truth.json")
        if e["job_name"] == job_name and e["expected_kind"] not in (None, "lost_job")
    }


def suggested(tmp_path: Path, *args: str | Path, name: str = "suggested.yaml") -> Path:
    out = tmp_path / name
    result = audit("rules", "suggest", *args, "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    return out


def findings(spans: Path, rules: Path) -> set[tuple[str, str, str]]:
    result = audit("scan", spans, "--rules", rules, "--no-packs", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return {(f["rule_id"], f["job_id"], f["kind"]) for f in json.loads(result.stdout)["findings"]}


def without_spans(source: Path, target: Path, span_name: str) -> Path:
    """A copy of a capture without the spans named ``span_name``."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        request = json.loads(line)
        for resource in request.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                scope["spans"] = [s for s in scope.get("spans", []) if s["name"] != span_name]
        lines.append(json.dumps(request))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def assert_lints_clean(rules: Path, spans: Path) -> None:
    result = audit("rules", "lint", rules, "--spans", spans, "--strict")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


@pytest.mark.parametrize("system", SYSTEMS)
def test_the_proposed_rule_names_the_job_and_its_effect_lints_and_finds_its_lies(
    tmp_path: Path, system: str
) -> None:
    spans = capture(system)
    out = suggested(tmp_path, spans, *LEARN)
    text = out.read_text(encoding="utf-8")
    rules = yaml.safe_load(text)["rules"]
    job = JOB[system]
    [rule] = [r for r in rules if r["jobs"]["name"] == job]
    assert rule["jobs"] == {"system": system, "name": job}
    assert rule["expect"] == {"effect": "email.sent", "correlate": "trace"}
    assert rule["severity"] == "medium"
    # the evidence, above the rule: how many confirmed, and the runs that did not
    lies = lies_of(system, job)
    unconfirmed = {j for j, kind in lies if kind in ("unconfirmed_done", "failed_effect")}
    head = text.split(f"- id: {rule['id']}", 1)[0]
    assert f"# {system} {job}: " in head and "confirmed email.sent" in head
    assert f"{len(unconfirmed)} runs did not; the rule flags them:" in head
    for job_id in unconfirmed:
        assert f"(job {job_id})" in head

    assert_lints_clean(out, spans)
    found = findings(spans, out)
    assert {(job_id, kind) for _, job_id, kind in found} == lies
    assert {rule_id for rule_id, _, _ in found} == {rule["id"]}


@pytest.mark.parametrize("system", SYSTEMS)
def test_without_probe_confirmations_the_smtp_span_is_expected_and_finds_the_same_lies(
    tmp_path: Path, system: str
) -> None:
    spans = without_spans(capture(system), tmp_path / "traces.jsonl", "side_effect.confirm")
    out = suggested(tmp_path, spans, *LEARN)
    job = JOB[system]
    [rule] = [r for r in yaml.safe_load(out.read_text())["rules"] if r["jobs"]["name"] == job]
    assert rule["expect"] == {
        "span": {"name": "smtp.send", "kind": "client"},
        "correlate": "trace",
    }
    assert_lints_clean(out, spans)
    assert {(j, kind) for _, j, kind in findings(spans, out)} == lies_of(system, job)


def test_with_probe_confirmations_the_smtp_span_is_a_commented_alternative(
    tmp_path: Path,
) -> None:
    text = suggested(tmp_path, CELERY, *LEARN).read_text()
    assert "  # An alternative: to expect the smtp.send client span instead, or as well" in text
    assert "  # - id: celery.shop.send_order_confirmation.smtp.send" in text
    # uncommented, the alternative is a rule of its own that loads and lints next to the first
    uncommented = uncomment_rules(text)
    both = tmp_path / "both.yaml"
    both.write_text(uncommented)
    assert [r["id"] for r in yaml.safe_load(uncommented)["rules"]] == [
        "celery.shop.send_order_confirmation.email.sent",
        "celery.shop.send_order_confirmation.smtp.send",
    ]
    assert_lints_clean(both, CELERY)


def skipped_jobs(text: str) -> dict[str, list[str]]:
    """The jobs listed at the end of a suggested file, by the reason they got no rule."""
    sections: dict[str, list[str]] = {}
    reason = ""
    for line in text.split("# No rule for these jobs:\n", 1)[1].splitlines():
        if line.startswith("#   "):
            sections[reason].append(line[len("#   ") :])
        else:
            reason = line[2:].split(" (", 1)[0]
            sections[reason] = []
    return sections


def uncomment_rules(text: str) -> str:
    """``text`` with its commented-out rules uncommented, as a person would: from ``# - id:``
    to the blank line after it."""
    out, inside = [], False
    for line in text.splitlines():
        inside = inside and bool(line.strip())
        if line.startswith("  # - id:"):
            inside = True
        out.append("  " + line[len("  # ") :] if inside else line)
    return "\n".join(out) + "\n"


def _cleanup_jobs(path: Path, runs: int = 6) -> Path:
    """Runs of a job that never confirms anything (probes convention)."""
    spans = [
        {
            "trace": f"t-c{i}", "span": f"run-c{i}", "name": "process shop.cleanup",
            "kind": "consumer", "start": "0ms", "end": "60ms",
            "attributes": {"job.system": "dramatiq", "job.id": f"c{i}", "job.name": "shop.cleanup"},
            "events": [{"name": "job.done", "at": "50ms"}],
        }
        for i in range(runs)
    ]  # fmt: skip
    path.write_text(json.dumps(spans_to_request(spans)) + "\n")
    return path


def test_a_job_that_never_has_effects_gets_no_rule_and_is_listed(tmp_path: Path) -> None:
    cleanup = _cleanup_jobs(tmp_path / "cleanup.jsonl")
    result = audit("rules", "suggest", CELERY, cleanup, *LEARN)
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load(result.stdout)["rules"]
    assert [r["jobs"]["name"] for r in rules] == ["shop.send_order_confirmation"]
    skipped = skipped_jobs(result.stdout)
    assert skipped["no stable effect"] == [
        "dramatiq shop.cleanup: 6 runs marked done; no effect and no candidate span under them"
    ]
    assert skipped["too few runs"] == [
        "celery shop.send_order_confirmation_acks_late: 1 run marked done; the most frequent: "
        "email.sent, in 1 (100%)"
    ]
    assert result.stderr == (
        "1 rule proposed, 1 job without a stable effect, 1 job with too few runs "
        "(--min-runs 5); 2 runs marked done without the effect would be flagged\n"
    )


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        # 6 of the 8 runs marked done confirmed email.sent (75%)
        (("--min-runs", "5", "--min-ratio", "0.75"), None),
        (("--min-runs", "5", "--min-ratio", "0.8"), "no stable effect"),
        (("--min-runs", "8", "--min-ratio", "0.6"), None),
        (("--min-runs", "9", "--min-ratio", "0.6"), "too few runs"),
        ((), "too few runs"),  # the default, 20 runs, is more than the capture holds
    ],
)
def test_min_runs_and_min_ratio_decide(
    tmp_path: Path, args: tuple[str, ...], listed: str | None
) -> None:
    result = audit("rules", "suggest", CELERY, *args)
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load(result.stdout)["rules"]
    job = "shop.send_order_confirmation"
    if listed is None:
        assert [r["jobs"]["name"] for r in rules] == [job]
    else:
        assert rules == []
        [line] = [j for j in skipped_jobs(result.stdout)[listed] if f" {job}:" in j]
        assert line.startswith(f"celery {job}: 8 runs marked done")
        assert result.stderr.startswith("0 rules proposed")


def test_a_store_gives_what_its_files_give(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    assert audit("ingest", CELERY, "--db", store).returncode == 0
    from_store = audit("rules", "suggest", "--db", store, *LEARN)
    from_files = audit("rules", "suggest", CELERY, *LEARN)
    assert from_store.returncode == 0, from_store.stderr
    assert str(store) in from_store.stdout.split("rules:", 1)[0]
    assert from_store.stdout.split("\nrules:")[1] == from_files.stdout.split("\nrules:")[1]
    assert from_store.stderr == from_files.stderr


def test_no_spans_exits_3_and_bad_arguments_exit_2_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"resourceSpans": []}\n')
    result = audit("rules", "suggest", empty)
    assert (result.returncode, result.stdout) == (3, "")
    assert "no spans in" in _one_error_line(result)

    for args, words in [
        (("-o", tmp_path), "is a directory"),
        (("-o", tmp_path / "missing" / "out.yaml"), "no such directory"),
        (("--min-ratio", "1.5"), "--min-ratio"),
        (("--min-ratio", "0"), "--min-ratio"),
        (("--min-runs", "0"), "--min-runs"),
    ]:
        result = audit("rules", "suggest", CELERY, *args)
        assert (result.returncode, result.stdout) == (2, ""), (args, result.stderr)
        assert words in _one_error_line(result)
        assert len(result.stderr.strip().splitlines()) == 1

    result = audit("rules", "suggest")
    assert result.returncode == 2
    assert "give span files to read, or --db PATH" in _one_error_line(result)


def test_the_example_in_the_docs_is_what_the_command_writes() -> None:
    repo = CAPTURES.parents[2]
    doc = (repo / "docs" / "suggest.md").read_text(encoding="utf-8")
    command = (
        "audit rules suggest tests/data/captures/celery/traces.jsonl --min-runs 5 --min-ratio 0.7"
    )
    assert f"```sh\n{command}\n```\n\n```yaml\n" in doc
    example = doc.split(f"```sh\n{command}\n```\n\n```yaml\n", 1)[1].split("```\n", 1)[0]
    result = audit(*command.split()[1:], cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == example
