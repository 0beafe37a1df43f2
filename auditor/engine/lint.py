"""Warnings about rules that are valid but will judge nothing, for ``audit rules lint``.

Without traffic: a ``jobs.system`` that no profile names (profiles that read the system from
an attribute — the probes convention's ``job.system``, the messaging conventions'
``messaging.system`` — can still produce it, so this is a warning, not an error), with the
nearest name known. With traffic (span files or a store): every rule that judged no job, and
why, in the words of ``engine.scan.idle_rule_warning``.
"""

from __future__ import annotations

import difflib
from fnmatch import fnmatchcase
from pathlib import Path

from auditor.engine.catalog import Catalog, load_catalog
from auditor.engine.scan import ScanRequest, idle_rule_warning, run_scan
from auditor.paths import packs_dir, systems_dir


def known_systems(catalog: Catalog) -> set[str]:
    """System names auditor itself names: profile ids and the systems the built-in packs
    select (Dramatiq and arq arrive through the probes convention, under their own names)."""
    builtin = load_catalog((), packs=True)
    names = {p.id for p in (*catalog.profiles, *builtin.profiles)}
    names |= {r.jobs.system for r in builtin.rules.rules if r.jobs.system}
    return names


def _shipped(path: str) -> bool:
    """Is ``path`` one of auditor's own rule files (named again, e.g. ``--rules rules/``)?"""
    try:
        resolved = Path(path).resolve()
    except OSError:
        return False
    return any(resolved.is_relative_to(d.resolve()) for d in (packs_dir(), systems_dir()))


def unknown_system_warnings(catalog: Catalog) -> list[str]:
    known = known_systems(catalog)
    out = []
    for rule in catalog.rules.rules:
        system = rule.jobs.system
        if catalog.is_builtin(rule) or _shipped(rule.location.file) or not system:
            continue
        if any(fnmatchcase(k, system) for k in known):
            continue
        text = (
            f"{rule.location_of('jobs.system')}: rule {rule.id!r}: no profile names system {system!r}; it can "
            "only match a system read from span attributes (job.system, messaging.system)"
        )
        close = difflib.get_close_matches(system, sorted(known), n=1)
        out.append(text + (f"; did you mean {close[0]!r}?" if close else ""))
    return out


def traffic_warnings(catalog: Catalog, request: ScanRequest) -> list[str]:
    """Every rule of the user's that judged no job of this traffic, and why."""
    result = run_scan(request, catalog)
    rules = {r.id: r for r in catalog.rules.rules}
    return [f"{rules[w.rule_id].location}: {w.text}" for w in result.warnings]


__all__ = ["idle_rule_warning", "traffic_warnings", "unknown_system_warnings"]
