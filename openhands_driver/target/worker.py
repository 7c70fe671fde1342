"""Worker backend: the target service inside an OpenHands agent-server worker, provisioned remotely.

One incident = one service root ``/srv/incidents/<opaque id>`` on the worker, one free port there,
one supervisor process group, all created through the worker's own agent-server APIs (file upload
for what to inject, bash for the rest: ``openhands_driver/orchestrator/agent_api.py``). Nothing runs
on the orchestrator's host: the worker image (``deploy/worker/Dockerfile``) carries the target
service (``/app``) and ``targetctl`` (``/opt/sre``), and the agent's terminal on the same worker
reaches the service on the worker's loopback (``control_env``: backend ``local``).

``url`` is the worker's network address (``worker_address``, e.g. its bridge IP), so the runner's
verifier, oracles and durability check reach the service from the orchestrator, as they would a
separate machine. The provision file is deleted once read, and the root's name says nothing about
the incident (blind runs stay blind).
"""

from __future__ import annotations

import json
import shlex
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from openhands_driver import targetctl
from openhands_driver.target.base import CommandResult, Target, TargetError, validate_argv
from target_service import faults

INCIDENTS_DIR = "/srv/incidents"
SERVICE_DIR = "/app"                                   # target_service/*.py in the worker image
TARGETCTL_SCRIPT = "/opt/sre/openhands_driver/targetctl.py"
LISTEN_HOST = "0.0.0.0"                                # reachable on the worker's address
# Waits for the app (or the supervisor's decision) with targetctl's own helpers, on the worker.
_WAIT = ("import runpy, sys, json; from pathlib import Path; ns = runpy.run_path(sys.argv[1], "
         "run_name='targetctl_worker'); root, t = Path(sys.argv[3]), float(sys.argv[4]); "
         "found = ns['wait_for_supervisor'](root, t) if sys.argv[2] == 'supervisor' "
         "else ns['wait_for_app'](root, None, t); print(json.dumps(found)); sys.exit(0 if found else 1)")
_FREE_PORTS = ("import socket; s = [socket.socket() for _ in range(2)]; [x.bind(('0.0.0.0', 0)) for x in s]; "
               "print(*[x.getsockname()[1] for x in s])")


class WorkerTarget(Target):
    backend = "worker"
    agent_backend = "local"  # the agent's terminal runs on the same worker: the target is local to it

    def __init__(self, *, scenario_id: str, fault: str | None, port: int | None = None,
                 root: Path | str | None = None, worker_url: str, worker_address: str,
                 api_key: str | None = None, worker_name: str | None = None,
                 fault_params: Mapping[str, Any] | None = None,
                 injections: list[Mapping[str, Any]] | None = None, start_timeout_s: float = 20.0,
                 client=None) -> None:
        injections = faults.fault_specs(injections) if injections else None
        if injections:
            fault, fault_params = injections[0]["fault"], injections[0]["params"]
        if fault is not None and fault not in faults.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid faults: {', '.join(faults.fault_names())}")
        if root is not None:
            raise ValueError("the worker backend chooses its service root on the worker")
        super().__init__(scenario_id=scenario_id, fault=fault, port=port or 0)
        from openhands_driver.orchestrator.agent_api import AgentServerClient

        self._api = client or AgentServerClient(worker_url, api_key)
        self._worker_url = worker_url.rstrip("/")
        self._address = worker_address
        self._worker_name = worker_name or worker_address
        self._fault_params = dict(fault_params or {})
        self._injections = injections
        self._root = f"{INCIDENTS_DIR}/{uuid.uuid4().hex[:12]}"
        self._start_timeout_s = start_timeout_s
        self._wrong_port: int | None = None
        self._supervisor_pid: int | None = None
        self._hostname: str | None = None
        self._started = self._cleaned = False
        self.startup_s: float | None = None

    # --- identity ------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return Path(self._root)

    @property
    def url(self) -> str:
        return f"http://{self._address}:{self._port}/"

    @property
    def worker(self) -> str:
        return self._worker_name

    @property
    def owned(self) -> bool:
        return True

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._cleaned:
            raise TargetError(f"{self!r} was cleaned up; create a new target")
        if self._started:
            return
        began = time.monotonic()
        provision = {"instance": self.scenario_id, "fault": self.fault or faults.HEALTHY,
                     "params": self._fault_params}
        if self._injections:
            provision["faults"] = self._injections
        provision_file = f"/run/sre-provision-{uuid.uuid4().hex[:12]}.json"
        self._api.upload(provision_file, json.dumps(provision).encode())
        keeps_down = any(faults.keeps_app_down(n) for n in self.fault_names)
        root, q = self._root, shlex.quote
        script = "\n".join([
            "set -eu",
            f"set -- $(python3 -c {q(_FREE_PORTS)})",
            f"mkdir -p {q(root)}/var/log",
            f"python3 {SERVICE_DIR}/faults.py --root {q(root)} --provision-file {q(provision_file)} "
            f"--port $1 --wrong-port $2 --host {LISTEN_HOST} >/dev/null",
            f"rm -f {q(provision_file)}",  # read once: nothing the agent can read names the fault
            f"cd {q(root)}",
            f"setsid python3 {SERVICE_DIR}/supervisor.py --root {q(root)} >>{q(root)}/var/log/service.log "
            f"2>&1 </dev/null &",
            "pid=$!",
            f"python3 -c {q(_WAIT)} {TARGETCTL_SCRIPT} {'supervisor' if keeps_down else 'app'} {q(root)} "
            f"{self._start_timeout_s:g} >/dev/null 2>&1 && up=1 || up=0",
            'echo "$1 $2 $pid $up $(cat /etc/hostname)"',
        ])
        try:
            result = self._api.bash(script, timeout_s=self._start_timeout_s + 30)
        finally:
            self._started = True  # from here on cleanup() stops whatever was started
        fields = result.stdout.split()
        if result.exit_code != 0 or len(fields) != 5:
            raise TargetError(f"provisioning the target on worker {self._worker_name} ({self._worker_url}) "
                              f"failed (exit {result.exit_code}): {(result.stderr or result.stdout)[-1500:]}")
        self._port, self._wrong_port, self._supervisor_pid = int(fields[0]), int(fields[1]), int(fields[2])
        self._hostname = fields[4]
        if fields[3] != "1":
            raise TargetError(f"target service did not come up on worker {self._worker_name} within "
                              f"{self._start_timeout_s:.0f}s (root {root}); last log lines:\n{self.logs(20)}")
        self.startup_s = round(time.monotonic() - began, 3)

    def restart(self, timeout_s: float = 10.0) -> None:
        self._require_started("restart")
        result = self._api.run(["python3", TARGETCTL_SCRIPT, "restart", "--timeout", f"{timeout_s:g}"],
                               timeout_s=timeout_s + 15, cwd=self._root, env=self.control_env())
        if not result.ok:
            raise TargetError(f"restart on worker {self._worker_name} failed (exit {result.exit_code}): "
                              f"{(result.stderr or result.stdout).strip()}")

    def exec(self, argv: list[str], timeout_s: float = 30.0) -> CommandResult:
        argv = validate_argv(argv)
        self._require_started("exec")
        result = self._api.run(["timeout", "-k", "2", f"{timeout_s:g}", *argv], timeout_s=timeout_s + 5,
                               cwd=self._root, env=self.control_env())
        return CommandResult(argv, result.exit_code, result.stdout, result.stderr, result.duration_s,
                             timed_out=result.exit_code == 124)

    def logs(self, tail: int = 200) -> str:
        if tail <= 0 or not self._started:
            return ""
        try:
            return self._api.run(["tail", "-n", str(tail), f"{self._root}/{targetctl.LOG_FILE}"],
                                 timeout_s=15).stdout
        except Exception:  # noqa: BLE001  (the worker may be gone: no log to show)
            return ""

    def status(self) -> dict[str, Any]:
        base = {"running": False, "worker": self._worker_name, "supervisor_pid": None, "app_pid": None}
        if not self._started or self._cleaned or self._supervisor_pid is None:
            return base
        result = self._api.bash(f"kill -0 {self._supervisor_pid} 2>/dev/null && echo up; "
                                f"cat {shlex.quote(self._root)}/{targetctl.APP_PID} 2>/dev/null", timeout_s=10)
        lines = result.stdout.split()
        running = bool(lines) and lines[0] == "up"
        app = int(lines[1]) if running and len(lines) > 1 and lines[1].isdigit() else None
        return {**base, "running": running, "supervisor_pid": self._supervisor_pid if running else None,
                "app_pid": app}

    def control_env(self) -> dict[str, str]:
        """targetctl on the worker: the local backend against the worker's own loopback."""
        return {targetctl.ENV_BACKEND: "local", targetctl.ENV_URL: f"http://127.0.0.1:{self._port}/",
                targetctl.ENV_ROOT: self._root, targetctl.ENV_EXPECTED_PORT: str(self._port),
                targetctl.ENV_SERVICE: str(self._fault_params.get("service") or "checkout")}

    def service_tool_argv(self) -> list[str]:
        return ["python3", f"{SERVICE_DIR}/faults.py"]

    def describe(self) -> dict[str, Any]:
        info = {"backend": self.backend, "url": self.url, "root": self._root, "port": self._port,
                "scenario_id": self.scenario_id, "fault": self.fault, "owned": True,
                "worker": self._worker_name, "worker_url": self._worker_url, "worker_address": self._address,
                "worker_hostname": self._hostname, "pid": self._supervisor_pid, "startup_s": self.startup_s}
        if self._fault_params:
            info["fault_params"] = self._fault_params
        if self._injections and len(self._injections) > 1:
            info["injections"] = self._injections
        return info

    def identity(self) -> dict[str, Any]:
        """For the verifier: the service's supervisor still runs on the worker we provisioned it on."""
        result = {"ok": False, "worker": self._worker_name, "hostname": self._hostname,
                  "supervisor_pid": self._supervisor_pid}
        try:
            answer = self._api.bash(f"cat /etc/hostname; kill -0 {self._supervisor_pid} && echo alive",
                                    timeout_s=10).stdout.split()
        except Exception as exc:  # noqa: BLE001
            return {**result, "reason": f"worker {self._worker_name} did not answer: {exc}"}
        if not answer or answer[0] != self._hostname:
            return {**result, "reason": f"worker {self._worker_name} is another host now ({answer[:1]})"}
        if answer[-1] != "alive":
            return {**result, "reason": f"supervisor {self._supervisor_pid} is gone on {self._worker_name}"}
        return {**result, "ok": True,
                "reason": f"supervisor {self._supervisor_pid} runs on worker {self._worker_name} ({self._hostname})"}

    def cleanup(self) -> None:
        """Stop the service's process group and remove its root on the worker. Idempotent; never raises
        (a worker that is gone took the service with it)."""
        if self._cleaned:
            return
        self._cleaned = True
        if not self._started:
            self._api.close()
            return
        pid = self._supervisor_pid
        stop = (f"kill -TERM -- -{pid} 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do "
                f"kill -0 -- -{pid} 2>/dev/null || break; sleep 0.2; done; kill -KILL -- -{pid} 2>/dev/null; "
                if pid else "")
        try:
            self._api.bash(f"{stop}rm -rf {shlex.quote(self._root)}; true", timeout_s=15)
        except Exception:  # noqa: BLE001
            pass
        finally:
            self._api.close()

    def _require_started(self, what: str) -> None:
        if not self._started or self._cleaned:
            raise TargetError(f"cannot {what}: the target on worker {self._worker_name} is not started")
