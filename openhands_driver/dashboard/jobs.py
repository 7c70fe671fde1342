"""Fan-out and benchmark runs started from the dashboard (the intake's; the read-only one has none).

A form gives the incidents, concurrency, blind + seeds and simulate; :class:`JobRequest` validates
them into an argv list (never a shell) for ``scripts/fanout_itbench.py`` or
``scripts/bench_blind.py``, run in a child process through this module's entry point, which first
arms the intake's parent watchdog (``intake.lease.watch_parent``): if the service dies, even by
SIGKILL, the run gets SIGTERM and stops cleanly (targets cleaned up, rows written). The service
stops every job on shutdown (:meth:`Jobs.stop_all`). One job at a time; its console goes to a log
file whose tail is the page's progress; the JSON report lands in the jobs directory, which the
runs page lists.

    python -m openhands_driver.dashboard.jobs --parent PID --script scripts/bench_blind.py -- ARGS...
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.paths import REPO_ROOT

KINDS = {"fanout": "scripts/fanout_itbench.py", "bench_blind": "scripts/bench_blind.py"}
DEMO_CATALOG = REPO_ROOT / "training_data" / "scenarios.json"
MAX_CONCURRENCY = 8
MAX_SEEDS = 50
LOG_TAIL = 25
STOP_S = 30.0
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


class JobError(ValueError):
    """A form value that cannot make a run (the message says which and why)."""


@dataclass(frozen=True)
class JobRequest:
    kind: str = "fanout"
    scenarios: tuple[str, ...] = ()   # fanout: scenario ids of training_data/scenarios.json; bench: fault classes
    concurrency: int = 2
    blind: bool = False
    seeds: str = ""                   # "A-B" or "1,2,5" (blind fan-out, bench)
    simulate: bool = False

    @classmethod
    def from_form(cls, form) -> JobRequest:
        kind = form.get("kind", "fanout")
        if kind not in KINDS:
            raise JobError(f"unknown run kind {kind!r}; valid: {', '.join(KINDS)}")
        scenarios = tuple(s.strip() for s in form.get("scenarios", "").split(",") if s.strip())
        bad = [s for s in scenarios if not _NAME.match(s)]
        if bad:
            raise JobError(f"not a scenario or fault class name: {', '.join(bad)}")
        try:
            concurrency = int(form.get("concurrency", 2))
        except ValueError:
            raise JobError("concurrency must be a whole number") from None
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise JobError(f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
        blind, simulate = form.get("blind") in ("on", "1", "true"), form.get("simulate") in ("on", "1", "true")
        seeds = form.get("seeds", "").strip()
        if seeds:
            from openhands_driver.errors import UserError
            from openhands_driver.fanout.blind import parse_seeds

            try:
                count = len(parse_seeds(seeds))
            except UserError as exc:
                raise JobError(str(exc)) from None
            if count > MAX_SEEDS:
                raise JobError(f"at most {MAX_SEEDS} seeds from the page, got {count}")
        if kind == "fanout":
            if not scenarios:
                raise JobError("name the incidents (scenario ids, comma-separated)")
            if seeds and not blind:
                raise JobError("seeds draw blind variants: tick blind")
        else:
            if simulate:
                raise JobError("the blind benchmark has no dry run; untick simulate")
            if not seeds:
                raise JobError("the blind benchmark needs seeds, e.g. 100-102")
        return cls(kind, scenarios, concurrency, blind, seeds, simulate)

    def script_args(self, output: Path) -> list[str]:
        if self.kind == "bench_blind":
            args = ["--seeds", self.seeds, "--concurrency", str(self.concurrency), "--output", str(output),
                    "--plot"]
            return args + (["--faults", ",".join(self.scenarios)] if self.scenarios else [])
        args = ["--training-data", str(DEMO_CATALOG), "--scenarios", ",".join(self.scenarios),
                "--concurrency", str(self.concurrency), "--output", str(output)]
        if self.blind:
            args.append("--blind")
            if self.seeds:
                args += ["--variant-seeds", self.seeds]
        if self.simulate:
            args.append("--simulate")
        return args

    def describe(self) -> str:
        what = ",".join(self.scenarios) or "every fault class"
        extra = [f"x{self.concurrency}"] + (["blind"] if self.blind else []) + (
            [f"seeds {self.seeds}"] if self.seeds else []) + (["simulate"] if self.simulate else [])
        return f"{self.kind}: {what} ({', '.join(extra)})"


@dataclass
class Job:
    id: str
    request: JobRequest
    argv: list[str]
    output: Path
    log: Path
    started_at: float
    process: subprocess.Popen = field(repr=False)

    def view(self) -> dict:
        code = self.process.poll()
        try:
            tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL:]
        except OSError:
            tail = []
        return {"id": self.id, "what": self.request.describe(), "started_at": self.started_at,
                "status": "running" if code is None else ("done" if code == 0 else f"exit {code}"),
                "running": code is None, "output": str(self.output), "has_output": self.output.exists(),
                "log_tail": tail, "pid": self.process.pid}


class Jobs:
    def __init__(self, directory: Path, *, parent_pid: int | None = None):
        self.directory = Path(directory)
        self.parent_pid = parent_pid or os.getpid()
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def start(self, request: JobRequest) -> Job:
        with self._lock:
            running = [j for j in self._jobs if j.process.poll() is None]
            if running:
                raise JobError(f"run {running[0].id} is still going; one run at a time from the page")
            self.directory.mkdir(parents=True, exist_ok=True)
            job_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
            output = self.directory / f"{request.kind}-{job_id}.json"
            log = self.directory / f"{request.kind}-{job_id}.log"
            argv = [sys.executable, "-m", "openhands_driver.dashboard.jobs", "--parent", str(self.parent_pid),
                    "--script", KINDS[request.kind], "--", *request.script_args(output)]
            with open(log, "wb") as console:
                process = subprocess.Popen(argv, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=console,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"})
            job = Job(job_id, request, argv, output, log, time.time(), process)
            self._jobs.append(job)
            return job

    def list(self) -> list[dict]:
        with self._lock:
            return [j.view() for j in reversed(self._jobs)]

    def stop_all(self, timeout_s: float = STOP_S) -> None:
        """SIGTERM every running job's process group (clean stop), SIGKILL what is left after timeout_s."""
        with self._lock:
            running = [j for j in self._jobs if j.process.poll() is None]
        for job in running:
            _signal_group(job.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for job in running:
            try:
                job.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(job.process.pid, signal.SIGKILL)
                job.process.wait(10)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(argv: list[str] | None = None) -> int:
    """The job process: arm the parent watchdog, then run the script as ``__main__``."""
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m openhands_driver.dashboard.jobs")
    p.add_argument("--parent", type=int, required=True, help="the service's pid (we stop when it is gone)")
    p.add_argument("--script", choices=sorted(KINDS.values()), required=True)
    p.add_argument("args", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    from openhands_driver.intake.lease import watch_parent

    watch_parent(ns.parent)
    import runpy

    script = REPO_ROOT / ns.script
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    sys.argv = [str(script), *args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
