"""Build hook: an editable install must not copy ``probes/`` into site-packages.

The wheel gets the repository's ``probes/`` through ``force-include`` (pyproject.toml).
Hatchling applies that to editable wheels as well, unless a hook names what an editable wheel
force-includes instead: here, a ``.pth`` file of comments only. The editable install then
imports the checkout's ``probes/`` through ``dev-mode-dirs``, so edits take effect at once.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditableWithoutCopies(BuildHookInterface):  # type: ignore[misc]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            build_data["force_include_editable"] = {"editable.pth": "auditor_probes_editable.pth"}
