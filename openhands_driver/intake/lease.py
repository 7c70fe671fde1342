"""Exactly-once remediation: each running execution is owned through a lease in the SQLite DB.

A lease is (``lease_owner``: the service process as ``ownership.token``, ``lease_heartbeat``,
``lease_token``: a fencing token, one higher on every claim). The worker process that runs the
incident records itself (``worker_owner``) and fences every change to the target:

- :class:`WorkerLease.install` (in the worker) puts a change guard in place (``runrecord``): before
  an action that may change the target (risk MEDIUM or higher) runs, the guard writes
  ``remediation_at`` *in the same row, only if the fencing token is still ours and the execution
  still running*. If that update matches nothing, the action is refused. So the DB knows, before
  the target can change, that it may have changed.
- The worker watches its parent (the service): when the service dies by any signal, the worker
  gets SIGTERM from its own watchdog, and ``run_incident`` cleans up and records ``interrupted``.
- At start-up (:func:`recover`) a running execution is re-run only when its owner is provably gone
  (``ownership.alive``), its worker too, and ``remediation_at`` is empty; otherwise it is marked
  ``needs_human`` and escalated. The orphaned run's trace row (closed as ``crashed`` when its
  process left none) is copied into the audit trail.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from openhands_driver import ownership, runrecord
from openhands_driver.trace import read_rows

HEARTBEAT_S = 2.0
WATCHDOG_S = 0.2
WORKER_EXIT_WAIT_S = 20.0


def server_owner() -> str:
    return ownership.token(ownership.current())


@dataclass(frozen=True)
class WorkerLease:
    """What a worker needs to fence its run (picklable: sent to the worker process)."""

    db: str
    execution_id: str
    token: int

    def _update(self, sql: str, args: tuple) -> int:
        db = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        try:
            return db.execute(sql, args).rowcount
        finally:
            db.close()

    def install(self) -> None:
        """In the worker, before run_incident: record the worker, install the change guard.

        Raises RuntimeError when the lease is no longer ours (the service restarted meanwhile and
        the execution was requeued or closed): the run must not start at all."""
        if self._update("UPDATE executions SET worker_owner=? WHERE id=? AND lease_token=? AND "
                        "status='running'", (server_owner(), self.execution_id, self.token)) != 1:
            raise RuntimeError(f"execution {self.execution_id} is no longer leased with token "
                               f"{self.token}; not running it")

        def guard(_action) -> bool:
            return self._update(
                "UPDATE executions SET remediation_at=COALESCE(remediation_at, ?) WHERE id=? AND "
                "lease_token=? AND status='running'", (time.time(), self.execution_id, self.token)) == 1

        runrecord.set_change_guard(guard)

    @staticmethod
    def uninstall() -> None:
        runrecord.set_change_guard(None)


def watch_parent(parent: int, interval_s: float = WATCHDOG_S) -> None:
    """In a worker: SIGTERM ourselves when our parent (the service, pid ``parent``, passed by the
    service itself: it may already be gone when the worker gets here) is gone (reparented)."""

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os.kill(os.getpid(), signal.SIGTERM)  # run_incident: clean, recorded interruption

    threading.Thread(target=loop, name="parent-watchdog", daemon=True).start()


class Heartbeat:
    """Refreshes ``lease_heartbeat`` of every execution this service owns, every HEARTBEAT_S."""

    def __init__(self, store, owner: str, clock=time.time):
        self.store, self.owner, self.clock = store, owner, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.store.heartbeat(self.owner, self.clock())
            except Exception:  # noqa: BLE001  (closed at shutdown)
                return

    def stop(self) -> None:
        self._stop.set()


def _alive(token: str | None) -> bool:
    owner = ownership.parse_token(token) if token else None
    return owner is not None and ownership.alive(owner)


def wait_for_workers(store, timeout_s: float = WORKER_EXIT_WAIT_S) -> None:
    """Before recovery: give workers of a dead service the time to stop (they watch it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = store.query("SELECT lease_owner, worker_owner FROM executions WHERE status='running'")
        if not any(_alive(r["worker_owner"]) and not _alive(r["lease_owner"]) for r in rows):
            return
        time.sleep(0.2)


def decide(row) -> tuple[str, str]:
    """keep | requeue | needs_human for a ``running`` row found at start-up (see module doc)."""
    if row["lease_owner"] and _alive(row["lease_owner"]) and row["lease_owner"] != server_owner():
        return "keep", "its owner is alive"
    if _alive(row["worker_owner"]):
        return "needs_human", f"its worker ({row['worker_owner']}) still runs after the service died"
    if row["remediation_at"] is not None:
        return "needs_human", ("the service died after the run had started changing the target "
                               "(remediation phase); re-running could remediate twice; a human decides")
    return "requeue", "its owner is gone and it had not changed the target"


def audit_orphans(store, trace_log: Path | None, rows: list, now: float) -> None:
    """Copy what the orphaned runs wrote to their trace log into the audit trail (timeline)."""
    if not trace_log or not Path(trace_log).exists():
        return
    runrecord.close_crashed(trace_log, closer="the intake at start-up")
    by_run = {r.get("run_id"): r for r in read_rows(trace_log)}
    for row in rows:
        run_id = f"intake-{row['id']}-a{row['attempts']}"
        found = by_run.get(run_id)
        if found is None:
            detail = f"run {run_id} left no trace row (it had not started its target)"
        else:
            commands = [f"{a.get('risk')} {a.get('command')}"[:160] for a in found.get("actions") or []]
            detail = json.dumps({"run_id": run_id, "status": found.get("status"),
                                 "service_up": found.get("service_up"), "actions": commands})
        store.note(row["id"], "note", "orphaned_run", detail, now)


def recover(store, *, now: float, max_attempts: int, escalation_for, trace_log: Path | None) -> dict:
    wait_for_workers(store)
    running = [dict(r) for r in store.query("SELECT * FROM executions WHERE status='running'")]
    running = [r for r in running if decide(r)[0] != "keep"]
    audit_orphans(store, trace_log, running, now)
    return store.recover(now, max_attempts, escalation_for, decide)
