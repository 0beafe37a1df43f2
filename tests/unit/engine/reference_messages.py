"""The words of each finding kind, written in Python as the oracle for the engine's SQL (``engine/findings.py``, which is what the product runs). Pure."""

from __future__ import annotations

from auditor.findings.model import Kind


def short_id(job_id: str) -> str:
    return job_id[:8] if len(job_id) > 12 else job_id


def job_label(system: str, job_name: str, job_id: str) -> str:
    name = job_name or "job"
    return f"{name} ({system} job {short_id(job_id)})" if job_id else f"{name} ({system})"


def duration_text(ns: int) -> str:
    ms = ns / 1e6
    if ms < 1:
        return f"{ns / 1e3:.0f} µs"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"


def _effect(name: str) -> str:
    # a glob (a pack's effect: "*") names no effect a person can look for
    return f"'{name}'" if name and not any(c in name for c in "*?[") else "the expected effect"


def message(
    kind: Kind,
    *,
    system: str,
    job_name: str,
    job_id: str,
    effect_name: str,
    effect_key: str = "",
    detail_ns: int | None = None,
    note: str = "",
    signals: str = "",
) -> str:
    job = job_label(system, job_name, job_id)
    key = f" (key {effect_key})" if effect_key else ""
    if kind is Kind.UNCONFIRMED_DONE:
        return f"{job} was marked done, but no {_effect(effect_name)} confirmation was found"
    if kind is Kind.PREMATURE_DONE:
        gap = f" {duration_text(detail_ns)}" if detail_ns is not None else ""
        return (
            f"{job} was marked done{gap} before its {_effect(effect_name)} confirmation{key} "
            "finished"
        )
    if kind is Kind.FAILED_EFFECT:
        why = f": {note}" if note else ""
        return (
            f"{job} was marked done, but {_effect(effect_name)} was not confirmed and a span "
            f"under it failed{why}"
        )
    if kind is Kind.DUPLICATE_EFFECT:
        times = f"{detail_ns} times" if detail_ns else "more than once"
        jobs = (
            f" by {system} job(s) {', '.join(short_id(j) for j in job_id.split(','))}"
            if job_id
            else ""
        )
        return (
            f"{_effect(effect_name)}{key} was confirmed {times}{jobs}: the side effect was repeated"
        )
    # LOST_JOB
    said = ""
    if signals:
        said = f"; {system} reported: {signals.replace(',', ', ')}"
    return f"{job} was enqueued but never ran: no run of it was recorded{said}"
