"""Pending confirmations of the intake's runs: a command paused at the confirmation gate waits in
SQLite until an operator approves or rejects it (the dashboard's buttons), or the wait times out.

With ``scripts/serve.py --require-confirmation-for-risk R`` every action of risk R or higher (by the
project's policy, see ``gates.py``) pauses its run. The worker process's approver
(:class:`DbApprover`, given to ``run_incident``) inserts a ``pending`` row into ``approvals`` in the
intake's database and polls it; :func:`decide` (the service process) turns it into ``approved`` or
``rejected`` exactly once. A wait longer than the timeout is ``expired`` and the command is
rejected (the agent is told why and may continue). Every step is also a timeline note of the
execution. The table lives in the intake's database (its schema: migrations/versions/0001_base.py).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.gates import APPROVE, REJECT, Decision, Proposal

DEFAULT_TIMEOUT_S = 600.0
POLL_S = 0.25
STATES = ("pending", "approved", "rejected", "expired")



def _connect(db: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db), timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def ensure_schema(db: str | Path) -> None:
    """The intake database at the newest migration (the ``approvals`` table is revision 0001_base's)."""
    from openhands_driver.intake import migrations

    migrations.upgrade(db)


def _note(conn: sqlite3.Connection, execution_id: str, at: float, detail: str) -> None:
    conn.execute("INSERT INTO timeline (execution_id, at, kind, name, detail) VALUES (?, ?, 'note', "
                 "'approval', ?)", (execution_id, at, detail))


def _row(row: sqlite3.Row) -> dict:
    item = dict(row)
    item["reasons"] = json.loads(item["reasons"])
    return item


def listing(db: str | Path, *, execution_id: str | None = None, state: str | None = None) -> list[dict]:
    """Approval rows, oldest first (of one execution and/or in one state)."""
    where, args = [], []
    if execution_id is not None:
        where.append("execution_id=?")
        args.append(execution_id)
    if state is not None:
        where.append("state=?")
        args.append(state)
    sql = "SELECT * FROM approvals" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
    conn = _connect(db)
    try:
        return [_row(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def pending_counts(db: str | Path) -> dict[str, int]:
    """{execution_id: pending approvals}."""
    conn = _connect(db)
    try:
        return {r[0]: r[1] for r in conn.execute(
            "SELECT execution_id, COUNT(*) FROM approvals WHERE state='pending' GROUP BY execution_id")}
    finally:
        conn.close()


class DecisionError(ValueError):
    """The approval does not exist or was already decided."""


def decide(db: str | Path, approval_id: int, verdict: str, *, by: str, reason: str = "",
           now: float | None = None) -> dict:
    """Approve or reject a pending command, once; returns the updated row."""
    if verdict not in (APPROVE, REJECT):
        raise DecisionError(f"unknown verdict {verdict!r}; use {APPROVE} or {REJECT}")
    state = "approved" if verdict == APPROVE else "rejected"
    now = time.time() if now is None else now
    conn = _connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT * FROM approvals WHERE id=?", (approval_id,)).fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            raise DecisionError(f"no approval {approval_id}")
        if row["state"] != "pending":
            conn.execute("ROLLBACK")
            raise DecisionError(f"approval {approval_id} is already {row['state']}")
        conn.execute("UPDATE approvals SET state=?, decided_at=?, decided_by=?, reason=? WHERE id=?",
                     (state, now, by, reason, approval_id))
        _note(conn, row["execution_id"], now, f"{state} by {by}: {row['command'][:200]}"
              + (f" ({reason})" if reason else ""))
        conn.execute("COMMIT")
        return _row(conn.execute("SELECT * FROM approvals WHERE id=?", (approval_id,)).fetchone())
    finally:
        conn.close()


@dataclass
class DbApprover:
    """The approver of a worker's run: wait in SQLite for an operator's decision."""

    db: str
    execution_id: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    poll_s: float = POLL_S

    def __call__(self, proposal: Proposal) -> Decision:
        now = time.time()
        conn = _connect(self.db)
        try:
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(
                "INSERT INTO approvals (execution_id, tool_call_id, tool, command, risk, policy_risk, "
                "model_risk, reasons, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (self.execution_id, proposal.tool_call_id, proposal.tool, proposal.command, proposal.risk,
                 proposal.policy.risk, proposal.model_risk, json.dumps(list(proposal.policy.reasons)), now))
            approval_id = cursor.lastrowid
            _note(conn, self.execution_id, now, f"waiting for an operator: {proposal.command[:200]} "
                  f"(risk {proposal.risk})")
            conn.execute("COMMIT")
            deadline = time.monotonic() + self.timeout_s
            while True:  # bounded by the timeout
                row = conn.execute("SELECT state, decided_by, reason FROM approvals WHERE id=?",
                                   (approval_id,)).fetchone()
                if row["state"] == "approved":
                    return Decision(APPROVE, f"approved by {row['decided_by']}"
                                    + (f": {row['reason']}" if row["reason"] else ""))
                if row["state"] == "rejected":
                    return Decision(REJECT, f"rejected by {row['decided_by']}"
                                    + (f": {row['reason']}" if row["reason"] else ""))
                if time.monotonic() >= deadline:
                    break
                time.sleep(self.poll_s)
            why = f"no operator decided within {self.timeout_s:g}s"
            conn.execute("BEGIN IMMEDIATE")
            expired = conn.execute("UPDATE approvals SET state='expired', decided_at=?, reason=? "
                                   "WHERE id=? AND state='pending'", (time.time(), why, approval_id)).rowcount
            if expired:
                _note(conn, self.execution_id, time.time(), f"expired: {why}")
            conn.execute("COMMIT")
            if not expired:  # decided in the last instant
                row = conn.execute("SELECT state, decided_by FROM approvals WHERE id=?", (approval_id,)).fetchone()
                if row["state"] == "approved":
                    return Decision(APPROVE, f"approved by {row['decided_by']}")
            return Decision(REJECT, f"rejected: {why}")
        finally:
            conn.close()
