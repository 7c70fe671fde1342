"""Remove what dead runs left behind; never touch a live run's.

A run's leftovers are found by name and proven dead by their owner record (``ownership.py``):

- incident directories in the temp dir, ``sre-target-*`` (service roots) and ``sre-incident-*``
  (agent workspaces), each with ``.sre-owner.json``. A directory whose owner is gone is removed,
  after stopping any supervisor still running there (its process group). A directory with no owner
  file (written by an older version, or a run killed within microseconds of creating it) is
  removed only when older than ``unowned_after_s`` and nothing runs in it.
- open-run sidecars (``<tmp>/sre-runs/<run_id>.json``): an owner that is gone gets its ``started``
  row closed as ``crashed`` in its own trace log (``runrecord.close_crashed``).
- ssh targets: a dead owner's directory holding ``ssh.json`` (target/ssh.py) is the run's side of
  a target on another host. Its watchdog there already ends the service when the run's connection
  ends; if that connection's master process outlived its owner, it is told to exit first
  (``ssh -O exit`` on the directory's control socket), which ends the remote service, then the
  directory goes like any other.
- Docker containers with this project's labels whose ``owner`` label names a gone process (only
  when an engine answers; containers without an owner label are left alone), then networks with
  those labels (the orchestrator's worker networks), listed as ``network NAME`` among the removed.

``sweep()`` is cheap (a directory listing and a few /proc reads) and runs at the start of every
``run_demo`` run and of the intake; ``scripts/janitor.py`` runs it by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from openhands_driver import ownership, runrecord

PREFIXES = ("sre-target-", "sre-incident-")
UNOWNED_AFTER_S = 6 * 3600.0
SUPERVISOR_PID = "var/run/supervisor.pid"


@dataclass
class SweepReport:
    removed_dirs: list[str] = field(default_factory=list)
    kept_live: list[str] = field(default_factory=list)
    kept_unowned: list[str] = field(default_factory=list)
    killed_groups: list[int] = field(default_factory=list)
    closed_runs: list[str] = field(default_factory=list)
    removed_containers: list[str] = field(default_factory=list)
    ended_ssh: list[str] = field(default_factory=list)  # ssh targets whose leftover connection was ended
    docker: str = "not checked"
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _stop_supervisor(root: Path, report: SweepReport) -> None:
    """Kill the process group of a supervisor still running in ``root`` (its cmdline names it)."""
    try:
        pid = int((root / SUPERVISOR_PID).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError):
        return
    if str(root).encode() not in cmdline:
        return  # the pid was reused by an unrelated process
    try:
        os.killpg(pid, signal.SIGKILL)  # the supervisor is its group's leader (start_new_session)
        report.killed_groups.append(pid)
    except (ProcessLookupError, PermissionError):
        pass


def _end_ssh_connection(local: Path, report: SweepReport) -> None:
    """A dead ssh run's master connection, if it still runs: ask it to exit (its remote watchdog then
    stops the service and removes the remote directory). Its socket answers only while it runs."""
    control = local / "c"
    try:
        record = json.loads((local / "ssh.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not control.exists():
        return
    host = str(record.get("destination", "")).rpartition("@")[2].rpartition(":")[0].strip("[]") or "target"
    try:
        done = subprocess.run(["ssh", "-S", str(control), "-O", "exit", "--", host], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        report.errors.append(f"ssh connection of {local}: {exc}")
        return
    if done.returncode == 0:
        report.ended_ssh.append(f"{record.get('destination')}:{record.get('remote_dir')}")


def _dir_busy(root: Path) -> bool:
    try:
        pid = int((root / SUPERVISOR_PID).read_text().strip())
        return str(root).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False


def sweep_dirs(tmp: Path, report: SweepReport, unowned_after_s: float) -> None:
    try:
        names = list(tmp.iterdir())
    except OSError as exc:
        report.errors.append(f"{tmp}: {exc}")
        return
    for path in names:  # staging dirs of make_owned_dir: their name carries the creator's pid
        pid = ownership.staging_pid(path.name, PREFIXES)
        if pid is not None and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)
            report.removed_dirs.append(str(path))
    entries = [p for p in names if p.name.startswith(PREFIXES) and p.is_dir()]
    now = time.time()
    for path in entries:
        owner = ownership.read_owner_file(path)
        if owner is None:
            try:
                old = now - path.stat().st_mtime > unowned_after_s
            except OSError:
                continue
            if not old or _dir_busy(path):
                report.kept_unowned.append(str(path))
                continue
        elif ownership.alive(owner):
            report.kept_live.append(str(path))
            continue
        _stop_supervisor(path, report)
        _end_ssh_connection(path, report)
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            report.removed_dirs.append(str(path))


def sweep_runs(report: SweepReport) -> None:
    directory = runrecord.runs_dir()
    try:
        sidecars = sorted(directory.glob("*.json"))
    except OSError:
        return
    for sidecar in sidecars:
        data = runrecord.read_sidecar(sidecar)
        if data is None or ownership.alive(data.get("owner")):
            continue
        trace_log = data.get("trace_log")
        if trace_log:
            try:
                report.closed_runs += runrecord.close_crashed(trace_log, closer="the janitor")
            except OSError as exc:
                report.errors.append(f"{trace_log}: {exc}")
                continue
        sidecar.unlink(missing_ok=True)


def sweep_containers(report: SweepReport) -> None:
    """Remove our labelled containers whose owner is gone (skipped when no engine answers)."""
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        report.docker = "no engine"
        return
    try:
        from openhands_driver.target.docker_engine import LABEL_OWNER, connect, managed_containers

        client = connect(timeout=5)
    except Exception as exc:  # noqa: BLE001  (no engine, no docker package: nothing to sweep)
        report.docker = f"no engine ({type(exc).__name__})"
        return
    report.docker = "checked"
    for container in managed_containers(client=client):
        owner = ownership.parse_token(container.labels.get(LABEL_OWNER, ""))
        if owner is None or ownership.alive(owner):
            continue
        try:
            container.remove(force=True, v=True)
            report.removed_containers.append(container.name)
        except Exception as exc:  # noqa: BLE001
            report.errors.append(f"container {container.name}: {exc}")
    sweep_networks(client, report)


def sweep_networks(client, report: SweepReport) -> None:
    """Remove our labelled networks (the orchestrator's worker networks) whose owner is gone; after
    the containers, so a dead orchestrator's network has no endpoints left."""
    from openhands_driver.target.docker_engine import LABEL_MANAGED, LABEL_OWNER

    try:
        networks = client.networks.list(filters={"label": [f"{LABEL_MANAGED}=true"]})
    except Exception as exc:  # noqa: BLE001
        report.errors.append(f"networks: {exc}")
        return
    for network in networks:
        owner = ownership.parse_token((network.attrs.get("Labels") or {}).get(LABEL_OWNER, ""))
        if owner is None or ownership.alive(owner):
            continue
        try:
            network.remove()
            report.removed_containers.append(f"network {network.name}")
        except Exception as exc:  # noqa: BLE001
            report.errors.append(f"network {network.name}: {exc}")


def sweep(*, tmp: Path | None = None, unowned_after_s: float = UNOWNED_AFTER_S,
          containers: bool = False, quiet: bool = False) -> SweepReport:
    """One pass over dirs, open runs (and containers when asked). Returns what it did."""
    report = SweepReport()
    sweep_dirs(Path(tmp or tempfile.gettempdir()), report, unowned_after_s)
    sweep_runs(report)
    if containers:
        sweep_containers(report)
    if not quiet or report.removed_dirs or report.closed_runs or report.removed_containers:
        print(f"[janitor] removed {len(report.removed_dirs)} dir(s), closed {len(report.closed_runs)} "
              f"crashed run(s), removed {len(report.removed_containers)} container(s); kept "
              f"{len(report.kept_live)} live", file=sys.stderr, flush=True)
    return report
