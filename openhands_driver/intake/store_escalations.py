"""The intake store's escalation records: each escalation of an execution and its delivery attempts.

A mixin of :class:`~openhands_driver.intake.store.Store` (its connection, transactions, audit chain
and timeline); the escalator (escalation.py) sends them.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class EscalationRecords:
    def _add_escalation(self, db, execution_id: str, escalation: dict, now: float) -> None:
        escalation_id = db.execute(
            "INSERT INTO escalations (execution_id, reason, dedup_key, event, state, created_at, "
            "next_attempt_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            (execution_id, escalation["reason"], escalation["dedup_key"], _json(escalation["event"]),
             now, now)).lastrowid
        self._audit(db, "escalation", execution_id, now, {"id": escalation_id, "execution_id": execution_id,
                                                          "reason": escalation["reason"],
                                                          "dedup_key": escalation["dedup_key"],
                                                          "event": escalation["event"]})
        self._timeline(db, execution_id, now, "note", "escalation",
                       f"escalation {escalation_id} queued ({escalation['reason']})")

    def due_escalations(self, now: float) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM escalations WHERE state='pending' AND next_attempt_at<=? "
                          "ORDER BY next_attempt_at, id", (now,))

    def next_escalation_at(self) -> float | None:
        rows = self.query("SELECT MIN(next_attempt_at) FROM escalations WHERE state='pending'")
        return rows[0][0] if rows else None

    def record_attempt(self, escalation_id: int, now: float, *, ok: bool, http_status: int | None,
                       error: str | None, duration_s: float, state: str, next_attempt_at: float) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO escalation_attempts (escalation_id, at, ok, http_status, error, "
                       "duration_s) VALUES (?, ?, ?, ?, ?, ?)",
                       (escalation_id, now, int(ok), http_status, error, duration_s))
            self._audit(db, "escalation_attempt", escalation_id, now, {
                "escalation_id": escalation_id, "ok": bool(ok), "http_status": http_status, "error": error,
                "state": state})
            db.execute("UPDATE escalations SET attempts=attempts+1, state=?, last_error=?, "
                       "next_attempt_at=?, sent_at=? WHERE id=?",
                       (state, error, next_attempt_at, now if ok else None, escalation_id))

    def defer_escalation(self, escalation_id: int, error: str, next_attempt_at: float) -> None:
        with self.tx() as db:
            db.execute("UPDATE escalations SET last_error=?, next_attempt_at=? WHERE id=?",
                       (error, next_attempt_at, escalation_id))
