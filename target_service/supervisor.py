"""Supervisor for the target service app (stdlib only, Python >= 3.9).

    python supervisor.py --root DIR

Runs `<this python> app.py --root DIR` as a child and keeps it running:
  * child exits on its own  -> logged, restarted after a short backoff (0.5 s doubling to 5 s);
  * SIGHUP                  -> THE restart: stop the child (SIGTERM, SIGKILL after a grace
                               period) and start it again at once (the app re-reads its config);
  * SIGTERM / SIGINT        -> stop the child and exit 0.
Writes var/run/supervisor.pid; logs to var/log/service.log (the child's stdout/stderr go there
too). Also reaps any orphaned process, so it can run as PID 1 in a container.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

APP_SCRIPT = Path(__file__).resolve().with_name("app.py")
SUPERVISOR_PID = "var/run/supervisor.pid"
LOG_FILE = "var/log/service.log"
STOP_GRACE_S = 3.0
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0
STABLE_AFTER_S = 10.0


class Supervisor:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.log_path = root / LOG_FILE
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = open(str(self.log_path), "ab", buffering=0)
        self.child: Optional[subprocess.Popen] = None
        self.child_started = 0.0
        self.restart_at: Optional[float] = None  # when to start the child again (backoff)
        self.backoff = BACKOFF_START_S
        self.pending: List[int] = []  # signals received, handled in the main loop
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)

    # --- logging / signals ---------------------------------------------------------------

    def log(self, message: str) -> None:
        now = time.time()
        stamp = "%s,%03d" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                             int(now * 1000) % 1000)
        line = "%s supervisor[%d] INFO %s\n" % (stamp, os.getpid(), message)
        self.log_file.write(line.encode("utf-8", "replace"))

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum != signal.SIGCHLD:
            self.pending.append(signum)
        # set_wakeup_fd also writes, but only for signals with a Python handler; keep it explicit.
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass

    def install_signals(self) -> None:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
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
        argv = [sys.executable, str(APP_SCRIPT), "--root", str(self.root)]
        try:
            self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                          stderr=self.log_file, cwd=str(self.root))
        except OSError as exc:
            self.log("cannot start app (%s): %s" % (" ".join(argv), exc))
            self.child = None
            self._schedule_restart()
            return
        self.child_started = time.monotonic()
        self.restart_at = None
        self.log("started app pid %d" % self.child.pid)

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
        if time.monotonic() - self.child_started > STABLE_AFTER_S:
            self.backoff = BACKOFF_START_S
        self.log("app pid %d %s; restarting in %.1fs" % (pid, how, self.backoff))
        self._schedule_restart()

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

    def run(self) -> int:
        self.install_signals()
        _write_pid(self.root / SUPERVISOR_PID)
        self.log("supervisor started (python %s, app %s, root %s)"
                 % (sys.executable, APP_SCRIPT, self.root))
        self.start_child()
        while True:
            while self.pending:
                signum = self.pending.pop(0)
                if signum in (signal.SIGTERM, signal.SIGINT):
                    self.stop_child("supervisor shutting down on signal %d" % signum)
                    self.log("supervisor exiting")
                    _remove_own_pid(self.root / SUPERVISOR_PID)
                    return 0
                if signum == signal.SIGHUP:
                    self.log("restart requested (SIGHUP)")
                    self.stop_child("restart")
                    self.backoff = BACKOFF_START_S
                    self.start_child()
            self.reap()
            if self.child is None and self.restart_at is not None:
                if time.monotonic() >= self.restart_at:
                    self.start_child()
                    continue
                self._sleep(self.restart_at - time.monotonic())
            else:
                self._sleep(1.0)


def _write_pid(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".%d.tmp" % os.getpid())
    tmp.write_text("%d\n" % os.getpid(), encoding="utf-8")
    os.replace(str(tmp), str(path))


def _remove_own_pid(path: Path) -> None:
    try:
        if path.read_text(encoding="utf-8").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Keep the target service app running.")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    args = parser.parse_args(argv)
    return Supervisor(Path(args.root).resolve()).run()


if __name__ == "__main__":
    sys.exit(main())
