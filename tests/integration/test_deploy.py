"""The deployment files in ``deploy/`` work as written.

No container engine runs here, so the Dockerfile is not built: its install command runs in a
fresh virtual environment and its entrypoint starts from there, exactly as the image would
run them (the source tree stands where the image copies it; the pip cache and the project's
pinned constraints are used so the test installs the same versions as CI, quickly). The
Kubernetes manifest's probes and ports, the Collector config's fan-out and the systemd unit's
command line are checked against the running server and the CLI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest
import yaml

from auditor.rules.testing import spans_to_request

# Building and installing into a fresh venv takes minutes on a busy 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def _dockerfile() -> dict[str, list[str]]:
    """The Dockerfile's instructions: name -> arguments (JSON form parsed)."""
    out: dict[str, list[str]] = {}
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.strip().partition(" ")
        out.setdefault(name, []).append(rest.strip())
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the Dockerfile's install command run in it (``/src`` = this tree)."""
    root = tmp_path_factory.mktemp("image")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    [run] = _dockerfile()["RUN"]
    argv = shlex.split(run)
    assert argv[:3] == ["python", "-m", "pip"] and argv[-1] == "/src", run
    python = str(root / "venv" / "bin" / "python")
    here = [str(REPO) + a.removeprefix("/src") if a.startswith("/src") else a for a in argv[1:]]
    install = [python, *here, "-c", str(REPO / ".ci" / "constraints.txt")]
    install.remove("--no-cache-dir")  # the cache only saves downloads; the install is the same
    done = subprocess.run(install, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "venv"


def test_the_image_entrypoint_serves_answers_its_healthcheck_and_drains(
    image: Path, tmp_path: Path
) -> None:
    docker = _dockerfile()
    entrypoint = json.loads(docker["ENTRYPOINT"][0])
    assert entrypoint[:2] == ["audit", "serve"] and "0.0.0.0" in entrypoint
    exposed = {int(p) for p in docker["EXPOSE"][0].split()}
    assert exposed == {4317, 4318}
    http_port, grpc_port = _free_port(), _free_port()
    argv = [str(image / "bin" / entrypoint[0]), *entrypoint[1:]]
    argv[argv.index("/data/auditor.duckdb")] = str(tmp_path / "auditor.duckdb")
    argv += ["--http-port", str(http_port), "--grpc-port", str(grpc_port)]  # free ports here
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        healthcheck = json.loads(docker["HEALTHCHECK"][0].split("CMD", 1)[1])
        healthcheck = [str(image / "bin" / "python"), *healthcheck[1:]]
        healthcheck[-1] = healthcheck[-1].replace(":4318/", f":{http_port}/")
        assert subprocess.run(healthcheck, timeout=30).returncode == 0
        span = {"trace": "t", "span": "s", "name": "GET /", "start": "0ms", "end": "1ms"}
        answer = httpx.post(
            f"{endpoint}/v1/traces", content=json.dumps(spans_to_request([span])),
            headers={"Content-Type": "application/json"}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200
        # the JSON log format the image asks for: one object a line
        assert all(
            json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, log.read_text()


def _serve_options() -> set[str]:
    help_text = subprocess.run(
        [str(Path(sys.executable).parent / "audit"), "serve", "--help"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    return set(re.findall(r"--[a-z][a-z-]+", help_text))


def test_the_kubernetes_sidecar_probes_the_served_paths_on_the_exposed_ports() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes-sidecar.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    auditor, worker = containers["auditor"], containers["worker"]
    ports = {p["name"]: p["containerPort"] for p in auditor["ports"]}
    assert ports == {"otlp-grpc": 4317, "otlp-http": 4318}
    for probe in ("livenessProbe", "readinessProbe"):
        assert auditor[probe]["httpGet"]["port"] == "otlp-http"
        assert auditor[probe]["httpGet"]["path"] in ("/healthz", "/readyz")
    env = {e["name"]: e["value"] for e in worker["env"]}
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"
    assert set(re.findall(r"--[a-z-]+", " ".join(auditor["args"]))) <= _serve_options()
    mounts = {m["mountPath"] for m in auditor["volumeMounts"]}
    assert "/data" in mounts  # where the entrypoint keeps the store


def test_the_collector_fans_traces_out_to_auditor_and_the_existing_backend() -> None:
    config = yaml.safe_load((DEPLOY / "collector.yaml").read_text())
    exporters = config["service"]["pipelines"]["traces"]["exporters"]
    assert "otlp/auditor" in exporters and len(exporters) >= 2
    assert config["exporters"]["otlp/auditor"]["endpoint"].endswith(":4317")


def test_the_systemd_unit_runs_serve_with_options_it_has() -> None:
    unit = (DEPLOY / "auditor.service").read_text()
    [command] = re.findall(r"^ExecStart=(.+)$", unit, flags=re.M)
    argv = shlex.split(command)
    assert argv[1:3] == ["serve", "--db"] or argv[1] == "serve"
    assert {a for a in argv if a.startswith("--")} <= _serve_options()
