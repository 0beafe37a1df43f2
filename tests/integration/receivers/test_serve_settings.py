"""``audit serve`` runs with the settings it was given, wherever they were given: the file,
``AUDIT_*`` variables, flags (in that order of strength). What the running server reports on
``/healthz`` and where its store appears are the proof; no worker processes are started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx

from tests.integration.receivers.conftest import launch_server, stop_cleanly

CONFIG = """\
store: from-file.duckdb
receivers: {http_port: 0, grpc_port: 0, decode_workers: 0}
evaluation: {interval: 0}
"""


def _environment(**variables: str) -> dict[str, str]:
    """This process's environment without its AUDIT_* variables, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
    return {**env, **variables}


def _health(tmp_path: Path, db: Path, *args: str, env: dict[str, str]) -> dict[str, Any]:
    config = tmp_path / "audit.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    server = launch_server(tmp_path, db, "--config", str(config), *args, env=env)
    try:
        health: dict[str, Any] = httpx.get(
            f"http://127.0.0.1:{server.http_port}/healthz", timeout=10
        ).json()
    finally:
        stop_cleanly(server)
    return health


def test_the_file_and_the_environment_reach_the_running_server(tmp_path: Path) -> None:
    env_db = tmp_path / "from-env.duckdb"
    health = _health(tmp_path, env_db, env=_environment(AUDIT_STORE=str(env_db)))
    assert health["store"] == str(env_db)  # AUDIT_STORE over the file's store
    assert health["workers"] == 0  # the file's receivers.decode_workers
    assert health["evaluation"] is None  # the file's evaluation.interval: 0 turns it off
    assert env_db.exists()
    assert not (tmp_path / "from-file.duckdb").exists()


def test_flags_beat_the_environment_and_the_file(tmp_path: Path) -> None:
    flag_db = tmp_path / "from-flag.duckdb"
    health = _health(
        tmp_path, flag_db, "--db", str(flag_db), "--evaluation-interval", "1h",
        env=_environment(AUDIT_STORE=str(tmp_path / "from-env.duckdb")),
    )  # fmt: skip
    assert health["store"] == str(flag_db)
    assert health["evaluation"] is not None  # --evaluation-interval 1h over the file's 0
    assert not (tmp_path / "from-env.duckdb").exists()
