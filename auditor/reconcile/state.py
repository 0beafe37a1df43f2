"""What a reconciler already confirmed: a small JSON file, replaced atomically.

``{"version": 1, "confirmed": {"<identity>": <unix time confirmed>}}``. Saved only after the
collector acknowledged the export, so a crash between export and save re-sends (with the same
span ids, which the store de-duplicates) rather than loses a confirmation.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from auditor.errors import InputError

VERSION = 1


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.confirmed: dict[str, float] = {}

    @classmethod
    def load(cls, path: Path) -> State:
        state = cls(path)
        if not path.exists():
            return state
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the probe state file {path}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("confirmed"), dict):
            raise InputError(
                f"{path} is not a probe state file (expected {{'version': 1, 'confirmed': {{…}}}})"
            )
        state.confirmed = {str(k): float(v) for k, v in document["confirmed"].items()}
        return state

    def __contains__(self, identity: str) -> bool:
        return identity in self.confirmed

    def add(self, identities: list[str]) -> None:
        now = time.time()
        for identity in identities:
            self.confirmed.setdefault(identity, now)

    def save(self) -> None:
        document = {"version": VERSION, "confirmed": self.confirmed}
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, separators=(",", ":"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise InputError(f"cannot write the probe state file {self.path}: {exc}") from None
