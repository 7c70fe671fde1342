"""Local backend: the target service as a process group on this machine.

One incident = one temp service root + one free 127.0.0.1 port + one process group
(supervisor.py as session/group leader, app.py as its child). cleanup() kills the group.

Attach mode (`attach=True, root=DIR, url=URL`) drives a service somebody else started, whose
service root is DIR (see CONTRIBUTING "Service root layout"): start() only checks that DIR is a
service root and that its supervisor runs; no fault is injected, no process is started, and
cleanup() never stops a process or removes DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from openhands_driver import ownership, targetctl
from openhands_driver.errors import UserError
from openhands_driver.paths import TARGET_SERVICE_DIR
from openhands_driver.target.base import CommandResult, Target, TargetError, url_port, validate_argv
from target_service import faults
from target_service.root_layout import SERVICE_JSON

SUPERVISOR_SCRIPT = TARGET_SERVICE_DIR / "supervisor.py"
POLL_S = 0.02
TERM_GRACE_S = 5.0
KILL_GRACE_S = 2.0


def free_ports(count: int = 1) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (bound together, then released)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def read_service_root(root: Path | str) -> dict[str, Any]:
    """etc/service.json of a service root (scenario, listen host/port); UserError when `root` is
    not one."""
    path = Path(root) / SERVICE_JSON
    hint = ("pass the root of a running target service (it holds etc/service.json and "
            "var/run/supervisor.pid; see CONTRIBUTING.md, Service root layout)")
    if not Path(root).is_dir():
        raise UserError(f"--target-root {root}: no such directory; {hint}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--target-root {root} is not a service root: {path} is missing; {hint}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"--target-root {root}: cannot read {path} ({exc}); {hint}") from None
    if isinstance(config, dict) and "instance" not in config:  # roots written before 'instance'
        config["instance"] = config.get("scenario")
    if not isinstance(config, dict) or not isinstance(config.get("instance"), str) or not config["instance"]:
        raise UserError(f"--target-root {root}: {path} names no 'instance'; {hint}")
    return config


def service_root_scenario(root: Path | str) -> str:
    """The instance id a running service reports (its etc/service.json); UserError if none."""
    return read_service_root(root)["instance"]


class LocalTarget(Target):
    backend = "local"

    def __init__(self, *, scenario_id: str, fault: str | None, port: int | None = None,
                 root: Path | None = None, wrong_port: int | None = None, keep: bool = False,
                 start_timeout_s: float = 10.0, fault_params: Mapping[str, Any] | None = None,
                 attach: bool = False, url: str | None = None,
                 injections: list[Mapping[str, Any]] | None = None) -> None:
        # several injections applied together ([{fault, params}]): `fault` is the first one's
        injections = faults.fault_specs(injections) if injections else None
        if injections:
            fault, fault_params = injections[0]["fault"], injections[0]["params"]
        if fault is not None and fault not in faults.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid faults: {', '.join(faults.fault_names())}")
        if attach and (root is None or url is None):
            raise ValueError("attach=True needs root= (the running service's root) and url= (its health URL)")
        if url is not None and not attach:
            raise ValueError("url= is only for attaching to a running service (attach=True, root=DIR)")
        if attach:
            port = url_port(url)
        elif port is None or (wrong_port is None and {"port_mismatch", "probe_misconfig"} &
                              set([fault] + [i["fault"] for i in injections or []])):
            picked = [p for p in free_ports(3) if p != port]
            port = port if port is not None else picked[0]
            wrong_port = wrong_port if wrong_port is not None else next(p for p in picked if p != port)
        super().__init__(scenario_id=scenario_id, fault=fault, port=port)
        self._wrong_port = wrong_port
        self._fault_params = dict(fault_params or {})  # ignored when attaching (already injected)
        self._injections = injections
        self._attach = attach
        self._url = url
        self._attached_pid: int | None = None  # the supervisor found by start() in attach mode
        self._created_root = root is None
        if root is None and not keep:  # crash safety: owned from birth; the janitor removes it after us
            self._root = ownership.make_owned_dir("sre-target-")
        else:
            self._root = Path(tempfile.mkdtemp(prefix="sre-target-")) if root is None else Path(root)
        self._keep = keep
        self._start_timeout_s = start_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._cleaned = False

    # --- identity ------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self._root

    @property
    def url(self) -> str:
        return self._url or super().url

    @property
    def owned(self) -> bool:
        """True when this target started its service (and so may stop it)."""
        return not self._attach

    @property
    def service_name(self) -> str:
        if self._attach:
            try:
                return str(read_service_root(self._root).get("service") or "service")
            except UserError:
                return "service"
        return str(self._fault_params.get("service") or "checkout")

    @property
    def wrong_port(self) -> int | None:
        return self._wrong_port

    @property
    def pgid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self._root / targetctl.LOG_FILE

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._cleaned:
            raise TargetError(f"{self!r} was cleaned up; create a new target")
        if self._proc is not None or self._attached_pid is not None:
            return
        if self._attach:
            self._attach_running()
            return
        faults.inject(self._root, self.fault, scenario_id=self.scenario_id,
                      listen_port=self.port, wrong_port=self._wrong_port, params=self._fault_params,
                      faults=self._injections)
        for rel in (targetctl.SUPERVISOR_PID, targetctl.APP_PID, targetctl.SUPERVISOR_STATE):
            # stale pids / state of a reused root
            (self._root / rel).unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # crash safety: the supervisor exits with its group when this process dies (--owner-pid);
        # a kept target outlives us (no owner: the janitor leaves it while its supervisor runs)
        argv = [sys.executable, str(SUPERVISOR_SCRIPT), "--root", str(self._root)]
        if not self._keep:
            argv += ["--owner-pid", str(os.getpid())]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(argv, cwd=self._root, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=log, start_new_session=True)
        if any(faults.keeps_app_down(name) for name in self.fault_names):  # no app pid will appear
            up = targetctl.wait_for_supervisor(self._root, self._start_timeout_s,
                                               supervisor_pid=self._proc.pid) is not None
        else:
            up = targetctl.wait_for_app(self._root, None, self._start_timeout_s,
                                        supervisor_pid=self._proc.pid) is not None
        if not up:
            code = self._proc.poll()
            state = "still running" if code is None else f"exited with code {code}"
            tail = self.logs(20)
            self._stop_processes()
            raise TargetError(
                f"target service did not come up within {self._start_timeout_s:.0f}s "
                f"(supervisor {state}; command: {' '.join(argv)}; root {self._root}).\n"
                f"Last lines of {self.log_path}:\n{tail}")

    def _attach_running(self) -> None:
        read_service_root(self._root)
        pid_file = self._root / targetctl.SUPERVISOR_PID
        pid = targetctl.read_pid(pid_file)
        if not targetctl.pid_alive(pid):
            raise UserError(f"--target-root {self._root}: its supervisor is not running (pid file "
                            f"{pid_file}: {pid or 'missing'}); start the service first, or run "
                            "without --target-root to start a fresh target")
        self._attached_pid = pid

    def restart(self, timeout_s: float = 10.0) -> None:
        self._require_started("restart")
        try:
            targetctl.restart_local(self._root, timeout_s)
        except targetctl.TargetctlError as exc:
            raise TargetError(str(exc)) from None

    def exec(self, argv: list[str], timeout_s: float = 30.0) -> CommandResult:
        argv = validate_argv(argv)
        env = {**os.environ, **self.control_env()}
        began = time.monotonic()
        try:
            proc = subprocess.Popen(argv, cwd=self._root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except FileNotFoundError:
            return CommandResult(argv, 127, "", f"command not found: {argv[0]}\n",
                                 time.monotonic() - began)
        except PermissionError:
            return CommandResult(argv, 126, "", f"permission denied: {argv[0]}\n",
                                 time.monotonic() - began)
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid, signal.SIGKILL)
            try:
                out, err = proc.communicate(timeout=2.0)
            except subprocess.TimeoutExpired:  # a grandchild escaped the group and holds a pipe
                proc.kill()
                out, err = b"", b""
        code = 124 if timed_out else proc.returncode
        return CommandResult(argv, code, out.decode("utf-8", "replace"),
                             err.decode("utf-8", "replace"), time.monotonic() - began, timed_out)

    def logs(self, tail: int = 200) -> str:
        return targetctl.tail_file(self.log_path, tail)

    def service_tool_argv(self) -> list[str]:
        return [sys.executable, str(TARGET_SERVICE_DIR / "faults.py")]

    def status(self) -> dict[str, Any]:
        supervisor = self._supervisor_pid()
        running = supervisor is not None
        app_pid = targetctl.read_pid(self._root / targetctl.APP_PID) if running else None
        return {"running": running, "supervisor_pid": supervisor,
                "app_pid": app_pid if targetctl.pid_alive(app_pid) else None,
                "pgid": self.pgid}

    def control_env(self) -> dict[str, str]:
        return {targetctl.ENV_BACKEND: "local", targetctl.ENV_URL: self.url,
                targetctl.ENV_ROOT: str(self._root), targetctl.ENV_EXPECTED_PORT: str(self.port),
                targetctl.ENV_SERVICE: self.service_name}

    def describe(self) -> dict[str, Any]:
        described = {"backend": self.backend, "url": self.url, "root": str(self._root),
                     "pid": self.pgid, "port": self.port, "scenario_id": self.scenario_id,
                     "fault": None if self._attach else self.fault,  # attached: nothing injected
                     "owned": self.owned}
        if self._attach:
            described["supervisor_pid"] = self._attached_pid
        elif self._fault_params:
            described["fault_params"] = self._fault_params
        if self._injections and len(self._injections) > 1 and not self._attach:
            described["injections"] = self._injections
        return described

    def cleanup(self) -> None:
        """Kill the process group, then remove the temp root (unless keep or caller-owned).
        An attached service is left alone: no process is stopped, nothing is removed.

        No locks and no logging, so it is safe on a signal-handler path and on re-entry.
        """
        self._cleaned = True
        if self._attach:
            return
        self._stop_processes()
        if self._created_root and not self._keep:
            shutil.rmtree(self._root, ignore_errors=True)

    # --- internals -----------------------------------------------------------------------

    def _supervisor_pid(self) -> int | None:
        """The live supervisor of this target (ours, or the attached service's), else None."""
        if self._attach:
            alive = self._attached_pid is not None and targetctl.pid_alive(self._attached_pid)
            return self._attached_pid if alive else None
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _require_started(self, what: str) -> None:
        if self._attach and self._cleaned:
            raise TargetError(f"cannot {what}: {self!r} was detached by cleanup(); create a new target")
        if self._supervisor_pid() is None:
            raise TargetError(f"cannot {what}: target is not running (call start() first); "
                              f"last log lines:\n{self.logs(10)}")

    def _group_gone(self) -> bool:
        assert self._proc is not None
        self._proc.poll()  # reap the leader (non-blocking; never waits on Popen's lock)
        try:
            os.killpg(self._proc.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _stop_processes(self) -> None:
        if self._proc is None:
            return
        for sig, grace in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, KILL_GRACE_S)):
            if self._group_gone():
                return
            _killpg(self._proc.pid, sig)
            deadline = time.monotonic() + grace
            while not self._group_gone() and time.monotonic() < deadline:
                time.sleep(POLL_S)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
