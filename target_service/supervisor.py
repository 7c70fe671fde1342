"""Supervisor for the target service app (stdlib only, Python >= 3.9).

    python supervisor.py --root DIR

Runs `sh etc/entrypoint.sh <this python> app.py --root DIR` (or app.py directly when the root has
no entrypoint) as a child and keeps it running, like a tiny kubelet for one workload:
  * the deployment (etc/deployment.json, or `deployment` in etc/service.json) wants 0 replicas,
    alone or through its autoscaler's bounds (`autoscaler`) -> no app is started (until the
    next SIGHUP);
  * the current release (etc/release.json / `release_file`) is not installed under opt/releases
    (`releases_dir`), or is built for another CPU architecture -> not started, retried with
    backoff (ImagePullBackOff);
  * etc/service.json names a cluster (`cluster_dir`) and workload specs (`workloads`) and one
    cannot be admitted or placed on a node (scheduler.py) -> Pending: not started, retried with
    backoff (like a scheduler's FailedScheduling events);
  * the memory limit (etc/limits.json / `limits_file`: memory_mb, or resources.limits.memory
    like 256Mi) -> passed to the app (SERVICE_MEMORY_LIMIT_MB), which enforces it;
  * the start command is `sh <entrypoint>` (etc/entrypoint.sh / `entrypoint`) + the app command;
    a child that has not opened its port INIT_SLOW_S after start is reported once;
  * child exits on its own  -> logged, restarted after a short backoff (0.5 s doubling to 5 s);
  * SIGHUP                  -> THE restart: stop the child (SIGTERM, SIGKILL after a grace
                               period) and start it again at once (the app re-reads its config);
  * SIGTERM / SIGINT        -> stop the child and exit 0;
  * SIGUSR1                 -> drain: stop the child and keep it stopped until the next SIGHUP.
Serves the /ops/* platform API (ops_api.py) from a thread, so it answers while the app is down.
Writes var/run/supervisor.pid and var/run/supervisor.state (JSON: state, detail, app_pid, restarts
= SIGHUPs handled), so a waiter can tell "app starting" from "the supervisor will not run it";
logs to var/log/service.log (the child's stdout/stderr go there too). Also reaps any orphaned
process, so it can run as PID 1 in a container. What may start, and how: workload_spec.py.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

if __package__:  # imported from the repo; flat in /app (and run as a script) otherwise
    from . import app_probes, ops_api, scheduler
    from .pidfiles import remove_own_pid, write_pid
    from .workload_spec import (APP_SCRIPT, SERVICE_JSON, WorkloadError, host_platform,  # noqa: F401
                                parse_quantity, read_workload)
else:
    import app_probes
    import ops_api
    import scheduler
    from pidfiles import remove_own_pid, write_pid
    from workload_spec import (APP_SCRIPT, SERVICE_JSON, WorkloadError, host_platform,  # noqa: F401
                               parse_quantity, read_workload)

SUPERVISOR_PID = "var/run/supervisor.pid"
LOG_FILE = "var/log/service.log"
STOP_GRACE_S = 3.0
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
STABLE_AFTER_S = 10.0
INIT_SLOW_S = 5.0
APP_PID = "var/run/app.pid"
SUPERVISOR_STATE = "var/run/supervisor.state"
EXIT_HINTS = {137: "OOMKilled", 127: "command not found", 126: "command cannot execute"}
PROBE_PERIOD_S = 0.5
PROBE_INITIAL_DELAY_S = 2.0  # failures while the app is still starting are not logged


def owner_gone(owner_pid: Optional[int]) -> bool:
    """--owner-pid: True once the process that started us is gone.

    The owner (the runner) is our parent; when it dies by any signal, SIGKILL included, we are
    reparented (to init or a subreaper), so getppid() changes. Exact and immune to pid reuse.
    (PR_SET_PDEATHSIG is not used: it fires when the parent *thread* exits, and the fan-out starts
    targets from worker threads.)
    """
    return owner_pid is not None and os.getppid() != owner_pid


class Supervisor:
    def __init__(self, root: Path, owner_pid: Optional[int] = None) -> None:
        self.root = root
        self.owner_pid = owner_pid
        self.log_path = root / LOG_FILE
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(str(self.log_path), "ab", buffering=0)
        self.child: Optional[subprocess.Popen] = None
        self.child_started = 0.0
        self.child_env: Dict[str, str] = {}
        self.child_argv: List[str] = []
        self.slow_reported = False
        self.restart_at: Optional[float] = None  # when to start the child again (backoff)
        self.backoff = BACKOFF_START_S
        self.restarts = 0  # SIGHUPs handled (recorded in the state file)
        self.pending: List[int] = []  # signals received, handled in the main loop
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.probe_ok: Optional[bool] = None  # last readiness probe outcome (None: not probed yet)
        self.probe_failures = 0
        self.drained = False  # SIGUSR1 (POST /ops/drain): no app until the next restart
        self.ops_token = ops_api.take_token()  # before any child inherits the environment

    # --- logging / signals ---------------------------------------------------------------

    def log(self, message: str) -> None:
        now = time.time()
        stamp = "%s,%03d" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                             int(now * 1000) % 1000)
        line = "%s supervisor[%d] INFO %s\n" % (stamp, os.getpid(), message)
        self.log_file.write(line.encode("utf-8", "replace"))

    def write_state(self, state: str, detail: str = "", app_pid: Optional[int] = None) -> None:
        data = {"supervisor_pid": os.getpid(), "state": state, "detail": detail, "app_pid": app_pid,
                "restarts": self.restarts, "updated": round(time.time(), 3)}
        path = self.root / SUPERVISOR_STATE
        if not self.root.is_dir():
            return  # the service root was removed (cleaned up while we stop): never recreate it
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".%d.tmp" % os.getpid())
            tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
            os.replace(str(tmp), str(path))
        except OSError as exc:
            self.log("cannot write %s: %s" % (SUPERVISOR_STATE, exc))

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum != signal.SIGCHLD:
            self.pending.append(signum)
        # set_wakeup_fd also writes, but only for signals with a Python handler; keep it explicit.
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass

    def install_signals(self) -> None:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(sig, self._on_signal)

    def _sleep(self, timeout: float) -> None:
        """Wait for a signal (child exit, HUP, TERM) or until timeout."""
        try:
            select.select([self.wake_r], [], [], max(0.0, timeout))
        except InterruptedError:
            pass
        try:
            while os.read(self.wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    # --- child management ----------------------------------------------------------------

    def start_child(self) -> None:
        app_probes.clear_state(self.root)  # a new instance starts out of rotation
        self.probe_ok = None
        try:
            argv, extra_env = read_workload(self.root)
        except WorkloadError as exc:
            self.child = None
            if exc.retry:
                self.log("cannot start app: %s; retrying in %.1fs" % (exc, self.backoff))
                self._schedule_restart()
            else:
                self.log("not starting app: %s" % exc)
                self.restart_at = None
            self.write_state(exc.state, str(exc))
            return
        try:
            level = (self.root / ops_api.LOG_LEVEL_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            level = ""
        if level in ops_api.LEVELS:  # POST /ops/loglevel
            extra_env["SERVICE_LOG_LEVEL"] = level
        try:
            self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                          stderr=self.log_file, cwd=str(self.root),
                                          env=dict(os.environ, **extra_env))
        except OSError as exc:
            self.log("cannot start app (%s): %s" % (" ".join(argv), exc))
            self.child = None
            self._schedule_restart()
            self.write_state("backoff", "cannot start app: %s" % exc)
            return
        for placed in scheduler.placements(self.root):
            for victim in placed["victims"]:
                self.log("Preempted pod/%s on node %s to make room for pod/%s" % (victim, placed["node"], placed["pod"]))
            self.log("Scheduled: assigned pod/%s (spec %s) to node %s" % (placed["pod"], placed["spec"], placed["node"]))
        self.child_started = time.monotonic()
        self.child_env, self.child_argv, self.slow_reported = extra_env, argv, False
        self.restart_at = None
        self.log("started app pid %d" % self.child.pid)
        self.write_state("started", "app pid %d started" % self.child.pid, self.child.pid)

    def reap(self) -> None:
        """Collect every exited child (ours and orphans when PID 1)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.child is not None and pid == self.child.pid:
                code = os.waitstatus_to_exitcode(status)
                self.child.returncode = code
                self.child = None
                self.on_child_exit(pid, code)

    def on_child_exit(self, pid: int, code: int) -> None:
        how = "killed by signal %d" % -code if code < 0 else "exited with code %d" % code
        if code == 137 and self.child_env.get("SERVICE_MEMORY_LIMIT_SOURCE"):
            how += " (OOMKilled; memory limit %s)" % self.child_env["SERVICE_MEMORY_LIMIT_SOURCE"]
        elif code in EXIT_HINTS:
            how += " (%s)" % EXIT_HINTS[code]
        if time.monotonic() - self.child_started > STABLE_AFTER_S:
            self.backoff = BACKOFF_START_S
        self.log("app pid %d %s; restarting in %.1fs" % (pid, how, self.backoff))
        self._schedule_restart()
        self.write_state("backoff", "app pid %d %s; back-off restarting failed container" % (pid, how))

    def check_slow_start(self) -> None:
        """Report once a child that runs but has not opened its port (no app pid file) after
        INIT_SLOW_S: typically a start command still busy before it hands over to the app."""
        child = self.child
        if child is None or self.slow_reported or time.monotonic() - self.child_started < INIT_SLOW_S:
            return
        try:
            written = (self.root / APP_PID).read_text(encoding="utf-8").strip()
        except OSError:
            written = ""
        if written == str(child.pid):
            return
        self.slow_reported = True
        command = " ".join(self.child_argv[:2]) if self.child_argv[:1] == ["sh"] else "app.py"
        self.log("app pid %d is not listening %.0fs after start; still running %s (init not "
                 "finished)" % (child.pid, INIT_SLOW_S, command))

    def _schedule_restart(self) -> None:
        self.restart_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)

    def stop_child(self, why: str) -> None:
        child = self.child
        if child is None:
            return
        self.log("stopping app pid %d (%s)" % (child.pid, why))
        self._send(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while self._child_alive(child) and time.monotonic() < deadline:
            self._sleep(min(0.05, deadline - time.monotonic()))
        if self._child_alive(child):
            self.log("app pid %d did not stop within %.0fs; sending SIGKILL" % (child.pid, STOP_GRACE_S))
            self._send(child.pid, signal.SIGKILL)
            while self._child_alive(child):
                self._sleep(0.05)
        self.log("app pid %d stopped (code %s)" % (child.pid, child.returncode))

    def _child_alive(self, child: subprocess.Popen) -> bool:
        """Reap without triggering the crash/backoff path for a child we are stopping."""
        if child.returncode is not None:
            return False
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            child.returncode = -1
            self.child = None
            return False
        if pid == 0:
            return True
        child.returncode = os.waitstatus_to_exitcode(status)
        self.child = None
        return False

    @staticmethod
    def _send(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    # --- main loop -----------------------------------------------------------------------

    def run_readiness_probe(self) -> bool:
        """Probe the app as its probe definition says (app_probes.py); True when probes are
        configured. The outcome goes to var/run/probe.json, which gates the app's traffic."""
        rel, spec, problem = app_probes.readiness_spec(self.root)
        if rel is None or (spec is None and problem is None):
            return False
        if self.child is None:
            ok, detail = False, "no app process running"
        elif problem:
            ok, detail = False, problem
        else:
            ok, detail = app_probes.run_probe(spec)
        # an app that is not listening yet (no pid file) is starting, not failing its probe
        starting = (time.monotonic() - self.child_started < PROBE_INITIAL_DELAY_S
                    and not (self.root / APP_PID).exists())
        if ok or not starting:  # a starting app that does not answer yet is not a probe failure
            app_probes.write_state(self.root, ok, detail, rel)
        self.probe_failures = 0 if ok else self.probe_failures + 1
        if (ok != self.probe_ok or (not ok and self.probe_failures % 20 == 0)) and (ok or not starting):
            self.log("Readiness probe %s: %s (probe from %s)"
                     % ("succeeded" if ok else "failed", detail, rel))
        if ok or not starting:
            self.probe_ok = ok
        return True

    def take_own_lock(self) -> None:
        """Hold the lock named `supervisor_lock` in etc/service.json (our pid), if configured:
        one supervisor per service root, like any daemon's lock file."""
        try:
            config = json.loads((self.root / SERVICE_JSON).read_text(encoding="utf-8"))
            rel = config.get("supervisor_lock") if isinstance(config, dict) else None
        except (OSError, ValueError):
            return
        if isinstance(rel, str) and rel.strip() and not Path(rel).is_absolute() and ".." not in rel:
            write_pid(self.root / rel)

    def run(self) -> int:
        self.install_signals()
        write_pid(self.root / SUPERVISOR_PID)
        self.take_own_lock()
        self.start_ops_api()
        self.log("supervisor started (python %s, app %s, root %s)"
                 % (sys.executable, APP_SCRIPT, self.root))
        self.start_child()
        while True:
            if owner_gone(self.owner_pid):
                return self.shutdown_group("owner pid %d is gone" % self.owner_pid)
            while self.pending:
                signum = self.pending.pop(0)
                if signum in (signal.SIGTERM, signal.SIGINT):
                    self.stop_child("supervisor shutting down on signal %d" % signum)
                    self.log("supervisor exiting")
                    self.write_state("stopped", "supervisor exited on signal %d" % signum)
                    remove_own_pid(self.root / SUPERVISOR_PID)
                    return 0
                if signum == signal.SIGUSR1:
                    self.drained = True
                    self.stop_child("drain requested")
                    self.restart_at = None
                    self.write_state("drained", "instance drained on request; no app until the next restart")
                if signum == signal.SIGHUP:
                    self.drained = False
                    self.restarts += 1
                    self.log("restart requested (SIGHUP)")
                    self.stop_child("restart")
                    self.backoff = BACKOFF_START_S
                    self.start_child()
            self.reap()
            self.check_slow_start()
            if self.child is None and self.restart_at is not None and not self.drained:
                if time.monotonic() >= self.restart_at:
                    self.start_child()
                    continue
                self._sleep(min(self.restart_at - time.monotonic(), 1.0))
            else:
                probed = self.child is not None and self.run_readiness_probe()
                self._sleep(PROBE_PERIOD_S if probed else 1.0)


    def start_ops_api(self) -> None:
        """The /ops/* API (ops_api.py); restart = SIGHUP and drain = SIGUSR1 to ourselves, handled
        by the main loop like any other restart request."""
        platform = ops_api.Platform(self.root, self.log, lambda: os.kill(os.getpid(), signal.SIGHUP),
                                    lambda: os.kill(os.getpid(), signal.SIGUSR1))
        try:
            server, _thread = ops_api.serve(platform, self.ops_token)
        except OSError as exc:
            self.log("ops api not started: %s" % exc)
            return
        self.log("ops api serving on port %d" % server.server_address[1])

    def shutdown_group(self, why: str) -> int:
        """The owner died: stop the app, then SIGKILL our whole process group (us included)."""
        self.log("supervisor shutting down: %s" % why)
        self.stop_child(why)
        self.write_state("stopped", "supervisor exited: %s" % why)
        remove_own_pid(self.root / SUPERVISOR_PID)
        os.killpg(os.getpgrp(), signal.SIGKILL)
        return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Keep the target service app running.")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    parser.add_argument("--owner-pid", type=int, default=None,
                        help="the process that owns this target: exit (with the app and the whole "
                             "process group) as soon as it is gone")
    args = parser.parse_args(argv)
    if owner_gone(args.owner_pid):  # the owner died before we started
        return 0
    return Supervisor(Path(args.root).resolve(), args.owner_pid).run()


if __name__ == "__main__":
    sys.exit(main())
