"""Run a real job system with honest and lying shop jobs, exporting their spans over OTLP.

``run_system("celery" | "rq" | "bullmq", endpoint, scenarios, workdir)``:

1. takes a per-system file lock (two runs must not share the system's Redis DB), flushes that
   DB and picks a fresh queue name;
2. starts a real SMTP server (``smtp_server.SmtpServer``) that refuses ``REJECT_DOMAIN``;
3. starts the system's workers as subprocesses and runs its producer, which enqueues one job
   per planned scenario and writes the framework's job ids (``jobs.json``);
4. polls the system's own state until every job is final (done or failed), then waits until
   every email the ground truth expects has been confirmed in the shop's store (background
   sends included);
5. stops the workers gracefully so their batch span processors flush, and checks the real
   outcome (final state, emails the SMTP server accepted) against ``scenarios.py``;
6. writes ``ground_truth.json`` into ``workdir`` and returns one ``JobRecord`` per job.

Spans go to ``endpoint`` (``OTEL_EXPORTER_OTLP_ENDPOINT``, OTLP/HTTP protobuf). Worker and
producer output goes to ``workdir/logs/<process>.log``. On any error every process the
harness started is killed (by process group), and the error names the log to read.

Redis: ``AUDITOR_REDIS_HOST`` / ``AUDITOR_REDIS_PORT`` (default 127.0.0.1:6379); DB numbers
13 (celery), 14 (rq), 15 (bullmq) are flushed on every run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.systems.scenarios import (
    ACCEPT_DOMAIN,
    ORDER_BASE,
    REJECT_DOMAIN,
    SCENARIOS,
    SCENARIOS_BY_NAME,
    SYSTEMS,
    select,
)
from tests.systems.smtp_server import SmtpServer

REPO_ROOT = Path(__file__).resolve().parents[2]
BULLMQ_DIR = Path(__file__).resolve().parent / "bullmq"

REDIS_HOST = os.environ.get("AUDITOR_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("AUDITOR_REDIS_PORT", "6379"))
REDIS_DB = {"celery": 13, "rq": 14, "bullmq": 15}

#: Batch span processor delay in the workers: short, so little is in flight at any moment.
BSP_SCHEDULE_DELAY_MS = 500
#: Bound on waiting for the jobs (and then their background effects) to finish.
JOBS_TIMEOUT = 60.0
#: Bound on a graceful worker shutdown before it is killed.
STOP_TIMEOUT = 20.0


class HarnessError(RuntimeError):
    """The system did not behave as the ground truth says (or did not finish in time)."""


@dataclass(frozen=True)
class PlannedJob:
    scenario: str
    effect_key: str
    recipient: str


@dataclass(frozen=True)
class JobRecord:
    """One job of one run: what was planned, what must be found, and what really happened."""

    system: str
    scenario: str
    job_id: str
    job_name: str
    effect_key: str
    expected_kind: str | None
    #: The job system's own verdict: "done" or "failed".
    final_state: str
    #: Emails the SMTP server accepted for ``effect_key``.
    emails_accepted: int
    #: ``side_effect.confirm`` spans the shop emitted for ``effect_key`` (from its store).
    confirmations: int

    def ground_truth(self) -> dict[str, Any]:
        """This job's entry in ground_truth.json."""
        return {k: v for k, v in asdict(self).items() if k in GROUND_TRUTH_FIELDS}


#: The fields of each ground_truth.json entry.
GROUND_TRUTH_FIELDS = (
    "system",
    "scenario",
    "job_id",
    "job_name",
    "effect_key",
    "expected_kind",
    "final_state",
)


def plan_jobs(system: str, scenario_names: list[str] | None = None) -> list[PlannedJob]:
    """The jobs a run enqueues, in order. Order keys are fixed per (system, scenario)."""
    wanted = {s.name for s in select(scenario_names)}
    number = ORDER_BASE[system]
    plan = []
    for scenario in SCENARIOS:  # numbering over all scenarios keeps keys stable for any subset
        for _ in range(scenario.jobs):
            number += 1
            if scenario.name not in wanted:
                continue
            key = f"ORD-{number}"
            domain = REJECT_DOMAIN if scenario.rejected_recipient else ACCEPT_DOMAIN
            plan.append(PlannedJob(scenario.name, key, f"customer-{number}@{domain}"))
    return plan


# --------------------------------------------------------------------------------------------
# Processes


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    long_running: bool


@dataclass
class RunContext:
    """Everything one run needs: its settings, its subprocesses, and the waiting helpers."""

    system: str
    workdir: Path
    queue: str
    redis_url: str
    env: dict[str, str]
    plan: list[PlannedJob]
    smtp: SmtpServer
    redis: redis.Redis
    procs: list[_Proc] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], cwd: Path = REPO_ROOT) -> _Proc:
        """Start a long-running process (a worker) in its own process group."""
        return self._start(name, argv, cwd, long_running=True)

    def run(self, name: str, argv: list[str], cwd: Path = REPO_ROOT, timeout: float = 60.0) -> None:
        """Run a short-lived process (a producer) to completion; raise if it fails."""
        proc = self._start(name, argv, cwd, long_running=False)
        try:
            code = proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"{name} did not finish in {timeout:.0f}s; see {proc.log_path}"
            ) from None
        if code != 0:
            raise HarnessError(f"{name} exited with {code}; see {proc.log_path}")

    def _start(self, name: str, argv: list[str], cwd: Path, long_running: bool) -> _Proc:
        log_path = self.workdir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = _Proc(name, popen, log_path, long_running)
        self.procs.append(proc)
        return proc

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.long_running and proc.popen.poll() is not None:
                raise HarnessError(
                    f"{proc.name} exited early with {proc.popen.returncode}; see {proc.log_path}"
                )

    def wait_for(self, what: str, poll: Callable[[], Any], timeout: float = JOBS_TIMEOUT) -> Any:
        """Call ``poll`` every 0.1 s until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = poll()
            if result:
                return result
            self.check_alive()
            if time.monotonic() > deadline:
                raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.1)

    def read_jobs(self) -> list[dict[str, Any]]:
        """The producer's output: the plan plus ``job_id`` / ``job_name`` per job."""
        with open(self.workdir / "jobs.json") as f:
            return json.load(f)

    def wait_for_effects(self) -> None:
        """Wait until each job's expected emails are confirmed in the shop's store."""

        def confirmed() -> bool:
            for job in self.plan:
                expected = SCENARIOS_BY_NAME[job.scenario].emails[self.system]
                if expected and self.confirmations(job.effect_key) < expected:
                    return False
            return True

        self.wait_for("the expected emails to be confirmed", confirmed)

    def confirmations(self, effect_key: str) -> int:
        return int(self.redis.hget(f"shop:order:{effect_key}", "confirmations") or 0)

    def stop(self, proc: _Proc, timeout: float = STOP_TIMEOUT) -> None:
        """Graceful stop: SIGTERM to the process (it stops its own children), then wait."""
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise HarnessError(
                f"{proc.name} did not stop within {timeout:.0f}s; see {proc.log_path}"
            ) from None
        proc.long_running = False

    def kill_all(self) -> None:
        """Kill whatever is still running (after an error, or a process that ignored SIGTERM)."""
        for proc in self.procs:
            if proc.popen.poll() is None:
                _kill_group(proc)


def _kill_group(proc: _Proc) -> None:
    """SIGKILL a process we started and everything in its process group.

    Only for a process that has not been reaped yet, so its id cannot belong to anyone else.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# One run


@contextlib.contextmanager
def _system_lock(system: str) -> Iterator[None]:
    path = Path(tempfile.gettempdir()) / f"auditor-systems-{system}-db{REDIS_DB[system]}.lock"
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _subprocess_env(endpoint: str, extra: dict[str, str]) -> dict[str, str]:
    # Inherited OTEL_* settings (a developer's service name, sampler, disabled SDK…) would make
    # the run depend on the caller's shell, so they are dropped and set explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_BSP_SCHEDULE_DELAY": str(BSP_SCHEDULE_DELAY_MS),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def run_system(
    system: str,
    endpoint: str,
    scenarios: list[str] | None = None,
    workdir: Path | None = None,
    *,
    check: bool = True,
) -> list[JobRecord]:
    """Run ``system``'s shop with the given scenarios (all when None); see the module doc.

    With ``check`` (the default), raise ``HarnessError`` when a job's final state or the
    emails the SMTP server accepted differ from the ground truth: then the spans cannot be
    trusted to show what ``scenarios.py`` says they show.
    """
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; expected one of {', '.join(SYSTEMS)}")
    from tests.systems import drivers  # the per-system drivers import this module

    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"auditor-{system}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    plan = plan_jobs(system, scenarios)
    (workdir / "plan.json").write_text(json.dumps([asdict(j) for j in plan], indent=2))
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB[system]}"
    queue = f"emails-{secrets.token_hex(3)}"

    with _system_lock(system), SmtpServer() as smtp:
        client = redis.Redis.from_url(redis_url)
        client.flushdb()
        env = _subprocess_env(
            endpoint,
            {
                "SHOP_REDIS_URL": redis_url,
                "SHOP_QUEUE": queue,
                "SHOP_SMTP_HOST": smtp.host,
                "SHOP_SMTP_PORT": str(smtp.port),
            },
        )
        ctx = RunContext(system, workdir, queue, redis_url, env, plan, smtp, client)
        try:
            jobs, final_states = drivers.DRIVERS[system](ctx)
        finally:
            ctx.kill_all()  # no-op for processes that already stopped
        accepted = smtp.accepted()
        records = [
            JobRecord(
                system=system,
                scenario=job["scenario"],
                job_id=str(job["job_id"]),
                job_name=job["job_name"],
                effect_key=job["effect_key"],
                expected_kind=SCENARIOS_BY_NAME[job["scenario"]].expected_kind(system),
                final_state=final_states[str(job["job_id"])],
                emails_accepted=accepted.get(job["effect_key"], 0),
                confirmations=ctx.confirmations(job["effect_key"]),
            )
            for job in jobs
        ]
        client.close()

    write_ground_truth(records, workdir / "ground_truth.json")
    if check:
        check_outcomes(records)
    return records


def write_ground_truth(records: list[JobRecord], path: Path) -> None:
    path.write_text(json.dumps([r.ground_truth() for r in records], indent=2) + "\n")


def check_outcomes(records: list[JobRecord]) -> None:
    """Raise ``HarnessError`` listing every job whose real outcome contradicts scenarios.py."""
    problems = []
    for r in records:
        scenario = SCENARIOS_BY_NAME[r.scenario]
        want_emails = scenario.emails[r.system]
        if r.final_state != scenario.final_state:
            problems.append(
                f"{r.scenario} {r.job_id}: final state {r.final_state}, expected {scenario.final_state}"
            )
        if r.emails_accepted != want_emails:
            problems.append(
                f"{r.scenario} {r.effect_key}: {r.emails_accepted} emails accepted, expected {want_emails}"
            )
        if r.confirmations != want_emails:
            problems.append(
                f"{r.scenario} {r.effect_key}: {r.confirmations} confirmations, expected {want_emails}"
            )
    if problems:
        raise HarnessError(
            "outcomes differ from tests/systems/scenarios.py:\n  " + "\n  ".join(problems)
        )


def ensure_node_modules() -> None:
    """``npm ci`` in tests/systems/bullmq when node_modules is missing (it is gitignored)."""
    if (BULLMQ_DIR / "node_modules" / "bullmq").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise HarnessError("npm is not installed; BullMQ needs Node 20 + npm")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=BULLMQ_DIR, check=True, stdout=sys.stderr
    )
