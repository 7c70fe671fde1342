"""The real runner of the intake queue: ``run_incident`` in long-lived worker processes.

Why processes and not threads: ``run_incident`` stops cleanly (target cleaned up, status
``interrupted``) on SIGTERM only in a main thread, so a worker process whose main thread runs the
incident can be cancelled by the service at shutdown; a crashing run cannot take the service down;
and the ~8 s OpenHands SDK import happens in the worker (once per worker, reused for every later
run), never in the service, whose endpoints stay responsive. Workers are started on demand, at most
``max_workers`` (the queue's concurrency), and each run's console output goes to its log file.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection

from openhands_driver.errors import UserError

POLL_S = 0.1
STOP_TIMEOUT_S = 5.0


def _worker_main(conn: Connection, service_pid: int | None = None) -> None:
    """Worker process: import the SDK once, then run one incident per message until told to stop."""
    # Signals sent to the service's process group (Ctrl-C, `kill -- -PGID`) must not stop a run:
    # the service decides, after its shutdown deadline, and cancels us with SIGTERM.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from openhands_driver.intake.lease import WorkerLease, watch_parent

    watch_parent(service_pid or os.getppid())  # crash safety: a run dies (cleanly, recorded) with the service, even on SIGKILL
    from openhands_driver.conversation import prepare_sdk_env

    prepare_sdk_env()
    try:
        import openhands.sdk  # noqa: F401  (warm: the first run would import it anyway)
    except ImportError as exc:  # the run will report it with the fix; nothing to do here
        print(f"[intake worker] SDK import failed: {exc}", file=sys.stderr, flush=True)
    from openhands_driver.runner import run_incident

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = ("stop",)
        if message[0] == "stop":
            # Nothing is left to flush (each run wrote its trace row and closed its log); skip the
            # SDK's exit hooks, which take seconds.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        _, config, log_path, lease, *options = message
        approval_timeout_s = options[0] if options else None
        try:
            approver = None
            if lease is not None:
                lease.install()  # the change guard: no target change without our fencing token
                if approval_timeout_s is not None:  # paused commands wait for an operator's decision
                    from openhands_driver.intake.approvals import DbApprover

                    approver = DbApprover(lease.db, lease.execution_id, approval_timeout_s)
            with open(log_path or os.devnull, "a", encoding="utf-8") as console:
                result = run_incident(config, console=console, approver=approver)
            conn.send(("result", result))
        except UserError as exc:
            conn.send(("user_error", str(exc)))
        except BaseException as exc:  # noqa: BLE001  (reported to the service, then keep serving)
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        finally:
            WorkerLease.uninstall()


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection


class ProcessRunner:
    """``runner(request) -> RunResult``: runs ``request.config`` in a worker process."""

    def __init__(self, max_workers: int = 2):
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_workers)
        self._closed = False

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, os.getpid()), name="intake-worker",
                                    daemon=True)
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._all.append(worker)
        return worker

    def warm(self) -> None:
        """Start one idle worker now, so the first incident does not wait for the SDK import."""
        with self._lock:
            if not self._closed and not self._all:
                self._idle.append(self._spawn())

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner is shut down")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
            return self._spawn()

    def __call__(self, request):
        with self._slots:
            worker = self._checkout()
            reusable = False
            try:
                worker.conn.send(("run", request.config, str(request.log_path) if request.log_path else None,
                                  getattr(request, "lease", None), getattr(request, "approval_timeout_s", None)))
                kind, payload = self._wait(worker, request)
                reusable = not request.cancel.is_set()
            finally:
                with self._lock:
                    if reusable and not self._closed:
                        self._idle.append(worker)
                    else:
                        self._retire(worker)
        if kind == "result":
            return payload
        if kind == "user_error":
            raise UserError(payload)
        raise RuntimeError(f"run_incident failed in worker pid {worker.process.pid}: {payload}")

    def _wait(self, worker: _Worker, request) -> tuple[str, object]:
        signalled = False
        while True:
            if worker.conn.poll(POLL_S):
                try:
                    return worker.conn.recv()
                except (EOFError, OSError):  # the worker closed its end: it exited
                    worker.process.join(STOP_TIMEOUT_S)
                    cause = "after the cancel" if signalled else "unexpectedly"
                    raise RuntimeError(f"worker pid {worker.process.pid} exited {cause} (exit code "
                                       f"{worker.process.exitcode}); its output is in the service log")
            if request.cancel.is_set() and not signalled:
                signalled = True  # run_incident turns SIGTERM into a clean, recorded interruption
                try:
                    os.kill(worker.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def _retire(self, worker: _Worker) -> None:
        try:
            worker.conn.send(("stop",))
        except (OSError, ValueError):
            pass
        worker.process.join(STOP_TIMEOUT_S)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(STOP_TIMEOUT_S)
        worker.conn.close()
        if worker in self._all:
            self._all.remove(worker)

    def close(self) -> None:
        """Stop every worker (idle ones at once; busy ones are cancelled by the queue first)."""
        with self._lock:
            self._closed = True
            workers, self._idle = list(self._all), []
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in workers:
            try:
                worker.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        for worker in workers:
            worker.process.join(max(deadline - time.monotonic(), 0.1))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(2)

    def describe(self) -> dict:
        with self._lock:
            return {"kind": "process", "workers": len(self._all), "idle": len(self._idle),
                    "pids": [w.process.pid for w in self._all],
                    "alive": [w.process.pid for w in self._all if w.process.is_alive()]}
