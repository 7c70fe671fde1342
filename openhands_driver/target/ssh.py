"""SSH backend: the target service on another host, provisioned and driven over SSH.

One incident = one directory ``/tmp/sre-ssh-<opaque id>`` on the remote host (``app/``: the
target service's modules, ``tools/``: targetctl + targetctl_ssh, ``root/``: the service root), one
free port there, one supervisor process group, and on this machine one owned directory holding
the master connection's control socket (``ssh_link.py``). The remote host needs python3 >= 3.9
with Flask (Debian: python3-flask) and tar; nothing is installed there and nothing of this
machine's is copied but those files (never the identity file).

The service listens on the remote host's address; ``url`` is ``http://HOST:PORT/``, so the
verifier, the oracles and the durability check reach it over the network. The agent's
``targetctl`` works unchanged: backend ``ssh``, its verbs run on the remote host through the
run's master connection (``targetctl_ssh.py``); ``status`` probes ``url`` from this machine.

Cleanup on every path: ``cleanup()`` ends the master's input and the remote watchdog stops the
service and removes its directory; if this process dies (SIGKILL too) its end of the pipe closes
and the watchdog does the same; the supervisor's ``--owner-pid`` is the watchdog, so a dropped
connection takes the service down too. The owned local directory carries an owner record (and
``ssh.json`` without the identity file), so ``janitor.py`` removes it after a dead run.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from openhands_driver import ownership, targetctl, targetctl_ssh
from openhands_driver.errors import UserError
from openhands_driver.paths import TARGET_SERVICE_DIR
from openhands_driver.target.base import CommandResult, Target, TargetError, validate_argv
from openhands_driver.target.ssh_link import (
    Destination, MasterConnection, check_identity_file, check_known_hosts, classify, parse_destination,
)
from target_service import faults

REMOTE_BASE = "/tmp"
TOOLS = ("targetctl.py", "targetctl_ssh.py")
RECORD = "ssh.json"


def bundle() -> bytes:
    """The tar.gz uploaded to the remote directory: app/ (the target service), tools/."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for path in sorted(TARGET_SERVICE_DIR.iterdir()):
            if path.suffix == ".py" or path.name == "start.sh":
                tar.add(path, arcname=f"app/{path.name}")
        for name in TOOLS:
            tar.add(Path(targetctl.__file__).with_name(name), arcname=f"tools/{name}")
    return data.getvalue()


class SSHTarget(Target):
    backend = "ssh"
    # The risk policy's view (security/scope.py): a service root directory the agent reaches with
    # `targetctl exec`, as on the local backend (the label only; the remote host is the boundary)
    agent_backend = "local"

    def __init__(self, *, scenario_id: str, fault: str | None, port: int | None = None,
                 root: Path | str | None = None, host: str, identity_file: str | Path,
                 known_hosts: str | Path | None = None, remote_python: str = "python3",
                 fault_params: Mapping[str, Any] | None = None,
                 injections: list[Mapping[str, Any]] | None = None, start_timeout_s: float = 20.0,
                 keep: bool = False) -> None:
        injections = faults.fault_specs(injections) if injections else None
        if injections:
            fault, fault_params = injections[0]["fault"], injections[0]["params"]
        if fault is not None and fault not in faults.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid faults: {', '.join(faults.fault_names())}")
        if root is not None:
            raise ValueError("the ssh backend chooses its service root on the remote host")
        if keep:
            raise UserError("--keep-target / --pause-after-diagnosis are not supported with --backend ssh yet: "
                            "the remote service lives as long as the run's SSH connection")
        super().__init__(scenario_id=scenario_id, fault=fault, port=port or 0)
        self._dest: Destination = parse_destination(host)
        self._identity = str(identity_file)
        self._known_hosts = None if known_hosts is None else str(known_hosts)
        self._python = remote_python
        self._fault_params = dict(fault_params or {})
        self._injections = injections
        self._start_timeout_s = start_timeout_s
        self._dir = f"{REMOTE_BASE}/sre-ssh-{uuid.uuid4().hex[:12]}"
        self._local: Path | None = None
        self._master: MasterConnection | None = None
        self._wrong_port: int | None = None
        self._supervisor_pid: int | None = None
        self._hostname: str | None = None
        self._started = self._cleaned = False
        self.startup_s: float | None = None

    # --- identity ------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return Path(self._dir + "/root")

    @property
    def url(self) -> str:
        return f"http://{self._dest.url_host}:{self._port}/"

    @property
    def owned(self) -> bool:
        return True

    @property
    def control_socket(self) -> str | None:
        return str(self._local / "c") if self._local else None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._cleaned:
            raise TargetError(f"{self!r} was cleaned up; create a new target")
        if self._started:
            return
        identity = check_identity_file(self._identity)  # UserError (exit 2) before any connection
        known_hosts = check_known_hosts(self._known_hosts)
        began = time.monotonic()
        self._local = ownership.make_owned_dir("sre-target-", backend="ssh")
        self._local.chmod(0o700)
        record = {"destination": str(self._dest), "remote_dir": self._dir, "known_hosts": known_hosts}
        (self._local / RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
        self._started = True  # from here on cleanup() closes the connection and removes what it made
        watchdog = targetctl_ssh.remote_command([self._python, "-c", targetctl_ssh.WATCHDOG, self._dir])
        self._master = MasterConnection(self._dest, identity_file=identity, known_hosts=known_hosts,
                                        control=str(self._local / "c"), remote_command=watchdog)
        ready = self._master.read_line(targetctl_ssh.CONNECT_TIMEOUT_S + 15)
        if ready is None or not ready.startswith("ready "):
            raise self._master.failure()
        self._hostname = ready.split()[-1]
        upload = self._session(targetctl_ssh.remote_command(["tar", "-xzf", "-", "-C", self._dir]),
                               stdin=bundle(), timeout_s=60)
        if upload.returncode != 0:
            raise TargetError(f"uploading the target service to {self._dest}:{self._dir} failed (exit "
                              f"{upload.returncode}): {upload.stderr.decode('utf-8', 'replace')[-500:]}; "
                              "the host needs tar and a writable /tmp")
        provision = {"instance": self.scenario_id, "fault": self.fault or faults.HEALTHY,
                     "params": self._fault_params}
        if self._injections:
            provision["faults"] = self._injections
        keeps_down = any(faults.keeps_app_down(n) for n in self.fault_names)
        self._master.send(targetctl_ssh.encode({"provision": provision, "timeout_s": self._start_timeout_s,
                                                "wait": "supervisor" if keeps_down else "app"}))
        answer = self._master.read_line(self._start_timeout_s + 30)
        try:
            report = json.loads(answer) if answer else None
        except ValueError:
            report = None
        if not isinstance(report, dict):
            raise TargetError(f"provisioning on {self._dest} gave no report ({answer!r}); the host needs "
                              f"python3 >= 3.9 with Flask (Debian: python3-flask). ssh said: "
                              f"{self._master.stderr.strip()[-500:] or 'nothing'}")
        if report.get("error"):
            raise TargetError(f"provisioning on {self._dest} failed: {report['error']}")
        self._port, self._wrong_port = int(report["port"]), int(report["wrong_port"])
        self._supervisor_pid = int(report["supervisor_pid"])
        if not report.get("up"):
            raise TargetError(f"target service did not come up on {self._dest} within "
                              f"{self._start_timeout_s:.0f}s (root {self.root}); the host needs python3 with "
                              f"Flask. Last log lines:\n{self.logs(20)}")
        self.startup_s = round(time.monotonic() - began, 3)

    def _session(self, command: str, *, stdin: bytes | None = None,
                 timeout_s: float = 30.0) -> subprocess.CompletedProcess[bytes]:
        """One command on the master connection (CompletedProcess; exit 255 = the connection failed)."""
        if self._master is None or not self._master.alive():
            raise TargetError(f"the SSH connection to {self._dest} is closed; last words: "
                              f"{self._master.stderr.strip()[-300:] if self._master else 'never opened'}")
        argv = targetctl_ssh.ssh_argv(self._dest.user, self._dest.host, self._dest.port,
                                      known_hosts=self._known_hosts, control=self.control_socket)
        try:
            return subprocess.run(argv + [command], input=stdin, capture_output=True, timeout=timeout_s,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(argv, 124, exc.stdout or b"", exc.stderr or b"")

    def _targetctl(self, inner: list[str], timeout_s: float) -> subprocess.CompletedProcess[bytes]:
        command = targetctl_ssh.serve_command(self._python, self._dir, {"argv": inner, "root": str(self.root),
                                                                        "port": str(self._port)})
        result = self._session(command, timeout_s=timeout_s)
        if result.returncode == 255:
            raise classify(result.stderr.decode("utf-8", "replace"), self._dest, self._known_hosts)
        return result

    def restart(self, timeout_s: float = 10.0) -> None:
        self._require_started("restart")
        result = self._targetctl(["restart", "--timeout", f"{timeout_s:g}"], timeout_s + 15)
        if result.returncode != 0:
            raise TargetError(f"restart on {self._dest} failed (exit {result.returncode}): "
                              f"{(result.stderr or result.stdout).decode('utf-8', 'replace').strip()}")

    def exec(self, argv: list[str], timeout_s: float = 30.0) -> CommandResult:
        argv = validate_argv(argv)
        self._require_started("exec")
        began = time.monotonic()
        try:
            result = self._targetctl(["exec", "--", "timeout", "-k", "2", f"{timeout_s:g}", *argv], timeout_s + 15)
        except UserError as exc:
            raise TargetError(str(exc)) from None
        return CommandResult(argv, result.returncode, result.stdout.decode("utf-8", "replace"),
                             result.stderr.decode("utf-8", "replace"), time.monotonic() - began,
                             timed_out=result.returncode == 124)

    def logs(self, tail: int = 200) -> str:
        if tail <= 0 or not self._started or self._cleaned:
            return ""
        try:
            return self._targetctl(["logs", "-n", str(tail)], 15).stdout.decode("utf-8", "replace")
        except (TargetError, UserError):
            return ""

    def _supervisor_alive(self) -> bool:
        if self._supervisor_pid is None or self._master is None or not self._master.alive():
            return False
        return self.exec(["test", "-d", f"/proc/{self._supervisor_pid}"], 10).ok

    def status(self) -> dict[str, Any]:
        base = {"running": False, "host": str(self._dest), "supervisor_pid": None, "app_pid": None}
        if not self._started or self._cleaned or not self._supervisor_alive():
            return base
        app = self.exec(["cat", targetctl.APP_PID], 10).stdout.strip()
        return {**base, "running": True, "supervisor_pid": self._supervisor_pid,
                "app_pid": int(app) if app.isdigit() else None}

    def control_env(self) -> dict[str, str]:
        """targetctl on this machine, its verbs on the remote host through the run's connection."""
        return {targetctl.ENV_BACKEND: "ssh", targetctl.ENV_URL: self.url, targetctl.ENV_ROOT: str(self.root),
                targetctl.ENV_EXPECTED_PORT: str(self._port),
                targetctl.ENV_SERVICE: str(self._fault_params.get("service") or "checkout"),
                targetctl_ssh.ENV_DEST: self._dest.dest, targetctl_ssh.ENV_PORT: str(self._dest.port),
                targetctl_ssh.ENV_CONTROL: self.control_socket or "",
                targetctl_ssh.ENV_KNOWN_HOSTS: self._known_hosts or "",
                targetctl_ssh.ENV_DIR: self._dir, targetctl_ssh.ENV_PYTHON: self._python}

    def service_tool_argv(self) -> list[str]:
        return [self._python, f"{self._dir}/app/faults.py"]

    def describe(self) -> dict[str, Any]:
        info = {"backend": self.backend, "url": self.url, "root": str(self.root), "port": self._port,
                "scenario_id": self.scenario_id, "fault": self.fault, "owned": True,
                "host": str(self._dest), "remote_dir": self._dir, "remote_hostname": self._hostname,
                "known_hosts": self._known_hosts or "default", "pid": self._supervisor_pid,
                "startup_s": self.startup_s}
        if self._fault_params:
            info["fault_params"] = self._fault_params
        if self._injections and len(self._injections) > 1:
            info["injections"] = self._injections
        return info

    def identity(self) -> dict[str, Any]:
        """For the verifier: the supervisor we started still runs on the host we provisioned."""
        result = {"ok": False, "host": str(self._dest), "hostname": self._hostname,
                  "supervisor_pid": self._supervisor_pid}
        try:
            alive = self._supervisor_alive()
        except TargetError as exc:
            return {**result, "reason": f"{self._dest} did not answer: {exc}"}
        if not alive:
            return {**result, "reason": f"supervisor {self._supervisor_pid} is gone on {self._dest}"}
        return {**result, "ok": True,
                "reason": f"supervisor {self._supervisor_pid} runs on {self._dest} ({self._hostname})"}

    def cleanup(self) -> None:
        """End the master's input: the remote watchdog stops the service and removes its directory;
        then remove the local directory. Idempotent; never raises."""
        if self._cleaned:
            return
        self._cleaned = True
        try:
            if self._master is not None:
                self._master.close()
        except Exception:  # noqa: BLE001  (cleanup never raises)
            pass
        finally:
            if self._local is not None:
                shutil.rmtree(self._local, ignore_errors=True)

    def _require_started(self, what: str) -> None:
        if not self._started or self._cleaned or self._master is None:
            raise TargetError(f"cannot {what}: the target on {self._dest} is not started")
