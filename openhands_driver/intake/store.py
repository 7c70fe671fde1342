"""The intake's audit trail: one SQLite database (WAL) holding every delivery, alert and execution.

Tables (migrations/, Alembic; ``meta.schema_version`` 4): ``deliveries`` (each webhook request, its
redacted payload, accepted or rejected with the reason), ``alerts`` (each incident of a delivery and
what became of it: queued, deduplicated, cancelled, ...), ``executions`` (one per incident run:
status, plan, verdict, tokens), ``timeline`` (status transitions, phases and notes with timestamps),
``actions`` (each agent action with its phase, risk, command, output excerpt and result: the
execution's steps and command log), ``escalations`` + ``escalation_attempts`` (store_escalations.py),
``hypotheses`` + ``evidence``, ``verifications``, ``provenance`` (store_findings.py, derived by
findings.py), ``audit`` (append-only: every delivery, alert, execution, timeline row, verdict,
finding and escalation as a hash-chained entry, signed when ``SRE_AUDIT_KEY`` names a key;
openhands_driver/audit/). Check it with ``scripts/verify_audit.py check intake.db``. The schema
is Alembic's (``migrations.upgrade`` at start): this module holds no DDL.

One connection guarded by a lock; every multi-row change is one transaction, so a crash never
leaves half an alert. Times are epoch seconds (REAL); readers render them.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openhands_driver.errors import UserError
from openhands_driver.intake.payloads import Incident
from openhands_driver.intake.store_escalations import EscalationRecords
from openhands_driver.intake.store_findings import FindingRecords
from openhands_driver.trace import REDACTED, redact

SCHEMA_VERSION = 4  # meta.schema_version after migrations.HEAD (3: before migrations; 4: findings)
ACTIVE = ("queued", "running")
FINAL = ("fixed", "failed", "escalated", "expired", "cancelled", "needs_human", "rejected")
WAITING = ("awaiting_operator",)  # paused after diagnosis (handoff.py): neither active nor final
STATUSES = ACTIVE + FINAL + WAITING
_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api[-_]?key|apikey|authori[sz]ation|auth[-_]?header"
                         r"|credential|private[-_]?key|access[-_]?key|routing[-_]?key|cookie|session[-_]?id"
                         r"|signature|bearer)", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)



def redact_payload(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy without secrets: values under secret-looking keys, bearer strings, known values."""
    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "")
                    else walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, str):
            return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", item)
        return item
    return redact(walk(value), secrets)


def new_execution_id() -> str:
    return f"ex-{uuid.uuid4().hex[:12]}"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Store(EscalationRecords, FindingRecords):
    def __init__(self, path: str | Path):
        from openhands_driver.audit import keys

        keys.check_configured()  # a configured audit key that cannot be used: exit 2 at start-up
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.row_factory = sqlite3.Row
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise UserError(f"{self.path}: SQLite could not switch to WAL mode (got {mode}); "
                            "put --db on a local file system")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        from openhands_driver.intake import migrations

        migrations.upgrade(self.path)  # alembic: 0001_base (the schema before migrations) .. HEAD
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise UserError(f"{self.path} has intake schema_version {row[0] if row else None}; this service "
                            f"reads {SCHEMA_VERSION}. Use another --db or the version that wrote it")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE), committed on success, rolled back on error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- the audit chain ---------------------------------------------------------------------------

    def _audit(self, db, kind: str, ref: Any, at: float, record: dict) -> None:
        """Append one chained (and, with a key, signed) entry inside the caller's transaction.

        BEGIN IMMEDIATE holds the database's write lock, so the last entry read here is the last one."""
        from openhands_driver.audit import chain, keys

        last = db.execute("SELECT entry FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        try:
            signer = keys.current_signer()
        except Exception:  # noqa: BLE001 - never lose a record to a key problem (checked at start-up)
            signer = None
        entry = chain.seal({"kind": kind, "ref": None if ref is None else str(ref), "at": at,
                            "record": record}, json.loads(last[0]) if last else None, signer)
        db.execute("INSERT INTO audit (at, kind, ref, entry) VALUES (?, ?, ?, ?)",
                   (at, kind, None if ref is None else str(ref), json.dumps(entry, sort_keys=True)))

    def record_access(self, token_id: str | None, role: str | None, method: str, path: str, status: int,
                      now: float, detail: str = "") -> None:
        """An audit entry for a request that changes something or was refused: who (token id, never
        its value), what, and the answer."""
        with self.tx() as db:
            self._audit(db, "access", token_id, now, {"token_id": token_id, "role": role, "method": method,
                                                      "path": path, "status": status, "detail": detail})

    # --- intake ----------------------------------------------------------------------------------

    def record_rejected(self, source: str, payload: Any, reason: str, now: float) -> int:
        with self.tx() as db:
            delivery = db.execute("INSERT INTO deliveries (received_at, source, outcome, reason, payload) "
                                  "VALUES (?, ?, 'rejected', ?, ?)", (now, source, reason, _json(payload))).lastrowid
            self._audit(db, "delivery", delivery, now, {"id": delivery, "source": source, "outcome": "rejected",
                                                        "reason": reason, "payload": payload})
            return delivery

    def accept(self, source: str, payload: Any, items: list[tuple[Incident, dict]], now: float,
               ttl_s: float) -> list[dict]:
        """Record one delivery and its incidents atomically; dedupe and resolve against active work.

        items: (incident, target plan dict). Returns one dict per incident: execution_id, status
        (queued | deduplicated | cancelled | running | no_match), dedupe_key.
        """
        out = []
        with self.tx() as db:
            delivery = db.execute("INSERT INTO deliveries (received_at, source, outcome, payload) "
                                  "VALUES (?, ?, 'accepted', ?)", (now, source, _json(payload))).lastrowid
            self._audit(db, "delivery", delivery, now, {"id": delivery, "source": source, "outcome": "accepted",
                                                        "reason": "", "payload": payload})
            for incident, plan in items:
                active = db.execute("SELECT id, status FROM executions WHERE dedupe_key=? AND status IN "
                                    "('queued','running') ORDER BY seq LIMIT 1",
                                    (incident.dedupe_key,)).fetchone()
                if incident.resolved:
                    status, execution_id = self._resolve(db, active, incident, now)
                elif active is not None:
                    execution_id, status = active["id"], "deduplicated"
                    db.execute("UPDATE executions SET alert_count=alert_count+1, updated_at=? WHERE id=?",
                               (now, execution_id))
                    self._timeline(db, execution_id, now, "note", "deduplicated",
                                   f"duplicate alert from {source} (delivery {delivery})")
                else:
                    execution_id, status = new_execution_id(), "queued"
                    db.execute(
                        "INSERT INTO executions (id, source, dedupe_key, service, priority, title, incident,"
                        " plan, status, reason, created_at, updated_at, expires_at) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                        (execution_id, source, incident.dedupe_key, incident.service, incident.priority,
                         incident.title, _json(incident.to_dict()), _json(plan),
                         f"alert from {source}", now, now, now + ttl_s))
                    self._audit(db, "execution", execution_id, now, {
                        "id": execution_id, "source": source, "dedupe_key": incident.dedupe_key,
                        "service": incident.service, "priority": incident.priority, "title": incident.title,
                        "incident": incident.to_dict(), "plan": plan})
                    self._timeline(db, execution_id, now, "status", "queued",
                                   f"{incident.priority} alert from {source} (delivery {delivery})")
                alert = db.execute("INSERT INTO alerts (delivery_id, received_at, source, dedupe_key, outcome, "
                                   "execution_id) VALUES (?, ?, ?, ?, ?, ?)",
                                   (delivery, now, source, incident.dedupe_key, status, execution_id)).lastrowid
                self._audit(db, "alert", execution_id, now, {"id": alert, "delivery_id": delivery,
                                                             "dedupe_key": incident.dedupe_key, "outcome": status})
                out.append({"execution_id": execution_id, "status": status,
                            "dedupe_key": incident.dedupe_key})
        return out

    def _resolve(self, db: sqlite3.Connection, active, incident: Incident, now: float):
        if active is None:
            return "no_match", None
        if active["status"] == "queued":
            self._set_status(db, active["id"], "cancelled", f"resolved by {incident.source} before it ran",
                             now, finished_at=now)
            return "cancelled", active["id"]
        self._timeline(db, active["id"], now, "note", "resolved",
                       f"{incident.source} reports the alert resolved while the run is in progress")
        return "running", active["id"]

    # --- status changes --------------------------------------------------------------------------

    def _timeline(self, db, execution_id: str, at: float, kind: str, name: str, detail: str = "") -> None:
        row_id = db.execute("INSERT INTO timeline (execution_id, at, kind, name, detail) VALUES (?, ?, ?, ?, ?)",
                            (execution_id, at, kind, name, detail)).lastrowid
        self._audit(db, "timeline", execution_id, at, {"id": row_id, "execution_id": execution_id, "kind": kind,
                                                       "name": name, "detail": detail})

    def _set_status(self, db, execution_id: str, status: str, reason: str, now: float,
                    expect: tuple[str, ...] = ACTIVE, escalation: dict | None = None, **fields: Any) -> bool:
        """Conditional status change + timeline row (+ its escalation, in the same transaction)."""
        assert status in STATUSES, status
        sets = ", ".join(f"{k}=?" for k in fields)
        marks = ",".join("?" * len(expect))
        cursor = db.execute(f"UPDATE executions SET status=?, reason=?, updated_at=?{', ' + sets if sets else ''}"
                            f" WHERE id=? AND status IN ({marks})",
                            (status, reason, now, *fields.values(), execution_id, *expect))
        if cursor.rowcount:
            self._timeline(db, execution_id, now, "status", status, reason)
            if escalation is not None:
                self._add_escalation(db, execution_id, escalation, now)
        return bool(cursor.rowcount)

    def transition(self, execution_id: str, status: str, reason: str, now: float,
                   expect: tuple[str, ...] = ACTIVE, escalation: dict | None = None, **fields: Any) -> bool:
        """Move an execution to ``status`` if it is in one of ``expect``; False if it was not."""
        with self.tx() as db:
            return self._set_status(db, execution_id, status, reason, now, expect, escalation, **fields)

    def note(self, execution_id: str, kind: str, name: str, detail: str, now: float) -> None:
        with self.tx() as db:
            self._timeline(db, execution_id, now, kind, name, detail)

    def finish_run(self, execution_id: str, status: str, reason: str, now: float, *, run: dict,
                   actions: list[dict], phases: list[dict], escalation: dict | None = None) -> bool:
        """Final record of a run: status, verdict, actions, phases, escalation in one transaction."""
        with self.tx() as db:
            done = self._set_status(db, execution_id, status, reason, now, ("running",), escalation,
                                    finished_at=now,
                                    run_id=run.get("run_id"), service_up=run.get("service_up"),
                                    tokens_used=run.get("tokens_used"),
                                    verification=_json(run.get("verification")), result=_json(run))
            if not done:
                return False
            for seq, action in enumerate(actions):
                db.execute("INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (execution_id, seq, action["phase"], action["tool"], action["command"],
                            action["risk"], action["exit_code"], action["duration_s"], action["summary"],
                            action["result"], action.get("output_excerpt", "")))
            for phase in phases:
                self._timeline(db, execution_id, now, "phase", phase["phase"], phase["detail"])
            self._audit(db, "verdict", execution_id, now, {"execution_id": execution_id, "status": status,
                                                           "reason": reason, "run": run, "actions": actions})
            self._record_findings(db, execution_id, now, run, actions)
            return True

    # --- operator handoff (pause after diagnosis) -------------------------------------------------

    def await_operator(self, execution_id: str, reason: str, now: float, *, run: dict, actions: list[dict],
                       phases: list[dict]) -> bool:
        """running -> awaiting_operator: the run paused before its first change (run["run_id"] kept)."""
        with self.tx() as db:
            done = self._set_status(db, execution_id, "awaiting_operator", reason, now, ("running",),
                                    paused_run=run.get("run_id"), run_id=run.get("run_id"),
                                    result=_json(run), lease_owner=None)
            if not done:
                return False
            for seq, action in enumerate(actions):
                db.execute("INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (execution_id, seq, action["phase"], action["tool"], action["command"],
                            action["risk"], action["exit_code"], action["duration_s"], action["summary"],
                            action["result"], action.get("output_excerpt", "")))
            for phase in phases:
                self._timeline(db, execution_id, now, "phase", phase["phase"], phase["detail"])
            self._audit(db, "paused", execution_id, now, {"execution_id": execution_id, "run": run,
                                                          "actions": actions})
            return True

    def resume(self, execution_id: str, token_id: str | None, note: str, now: float, ttl_s: float) -> bool:
        """awaiting_operator -> queued (the dispatcher resumes the paused run with the note)."""
        with self.tx() as db:
            return self._set_status(db, execution_id, "queued", f"resumed by token {token_id}"
                                    + (f": {note}" if note else ""), now, WAITING, resume_note=note or "",
                                    expires_at=now + ttl_s)

    def reject(self, execution_id: str, token_id: str | None, why: str, now: float) -> bool:
        """awaiting_operator -> rejected (final): the proposed change is never made."""
        with self.tx() as db:
            return self._set_status(db, execution_id, "rejected", f"rejected by token {token_id}"
                                    + (f": {why}" if why else ""), now, WAITING, finished_at=now)

    def expire_due(self, now: float) -> list[str]:
        with self.tx() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM executions WHERE status='queued' AND "
                                               "expires_at<=? ORDER BY seq", (now,))]
            for execution_id in ids:
                self._set_status(db, execution_id, "expired", "TTL passed while queued", now,
                                 ("queued",), finished_at=now)
        return ids

    def next_candidate(self, now: float) -> sqlite3.Row | None:
        """The queued execution to run next: P1 first, FIFO within a priority, its service idle."""
        rows = self.query("SELECT * FROM executions WHERE status='queued' AND expires_at>? AND service "
                          "NOT IN (SELECT service FROM executions WHERE status='running') "
                          "ORDER BY priority, seq LIMIT 1", (now,))
        return rows[0] if rows else None

    def next_expiry(self) -> float | None:
        rows = self.query("SELECT MIN(expires_at) FROM executions WHERE status='queued'")
        return rows[0][0] if rows else None

    def recover(self, now: float, max_attempts: int,
                escalation_for: Callable[[sqlite3.Row, str], dict],
                decide: Callable[[sqlite3.Row], tuple[str, str]] | None = None) -> dict[str, list[str]]:
        """After a restart: expire stale queued work, requeue or fail runs that lost their process
        (a failed one is escalated: ``escalation_for(row, reason)`` builds the record).

        ``decide(row) -> (verdict, why)`` (lease.py) may say ``keep`` (its owner is alive),
        ``needs_human`` (the target may already have been changed: escalated, never re-run) or
        ``requeue`` (provably nothing was changed)."""
        out: dict[str, list[str]] = {"expired": self.expire_due(now), "requeued": [], "failed": [],
                                     "needs_human": [], "kept": []}
        with self.tx() as db:
            for row in db.execute("SELECT * FROM executions WHERE status='running'").fetchall():
                verdict, why = decide(row) if decide else ("requeue", "")
                if verdict == "keep":
                    out["kept"].append(row["id"])
                    continue
                if verdict == "needs_human":
                    self._set_status(db, row["id"], "needs_human", why, now, ("running",),
                                     escalation_for(row, why), finished_at=now)
                    out["needs_human"].append(row["id"])
                    continue
                if row["attempts"] < max_attempts and row["expires_at"] > now:
                    self._set_status(db, row["id"], "queued", "the service restarted during the run; "
                                     f"requeued (attempt {row['attempts']} of {max_attempts})"
                                     + (f"; {why}" if why else ""), now, ("running",))
                    out["requeued"].append(row["id"])
                else:
                    why = "the service restarted during the run and it may not be retried"
                    self._set_status(db, row["id"], "failed", why, now, ("running",),
                                     escalation_for(row, why), finished_at=now)
                    out["failed"].append(row["id"])
        return out

    def claim(self, execution_id: str, reason: str, now: float, owner: str, **fields: Any) -> int | None:
        """queued -> running under a new lease: ``owner``, a heartbeat and a fencing token (one
        more than the last one of this execution). Returns the token, None if it was not queued."""
        with self.tx() as db:
            if not self._set_status(db, execution_id, "running", reason, now, ("queued",), **fields):
                return None
            db.execute("UPDATE executions SET lease_owner=?, lease_token=lease_token+1, lease_heartbeat=?, "
                       "worker_owner=NULL, remediation_at=NULL WHERE id=?", (owner, now, execution_id))
            return db.execute("SELECT lease_token FROM executions WHERE id=?", (execution_id,)).fetchone()[0]

    def heartbeat(self, owner: str, now: float) -> int:
        with self.tx() as db:
            return db.execute("UPDATE executions SET lease_heartbeat=? WHERE lease_owner=? AND "
                              "status='running'", (now, owner)).rowcount

    # --- reads -----------------------------------------------------------------------------------

    def execution(self, execution_id: str) -> dict | None:
        rows = self.query("SELECT * FROM executions WHERE id=?", (execution_id,))
        if not rows:
            return None
        data = dict(rows[0])
        for key in ("incident", "plan", "verification", "result"):
            data[key] = json.loads(data[key]) if data[key] else None
        data["service_up"] = None if data["service_up"] is None else bool(data["service_up"])
        data["timeline"] = [dict(r) for r in self.query(
            "SELECT at, kind, name, detail FROM timeline WHERE execution_id=? ORDER BY id", (execution_id,))]
        data["actions"] = [dict(r) for r in self.query(
            "SELECT seq, phase, tool, command, risk, exit_code, duration_s, summary, result, output_excerpt "
            "FROM actions WHERE execution_id=? ORDER BY seq", (execution_id,))]
        escalations = []
        for row in self.query("SELECT * FROM escalations WHERE execution_id=? ORDER BY id", (execution_id,)):
            item = dict(row)
            item["event"] = json.loads(item["event"])
            item["attempt_log"] = [dict(a) for a in self.query(
                "SELECT at, ok, http_status, error, duration_s FROM escalation_attempts "
                "WHERE escalation_id=? ORDER BY id", (row["id"],))]
            escalations.append(item)
        data["escalations"] = escalations
        return data

    def executions(self, statuses: tuple[str, ...] | None = None, limit: int = 100) -> list[dict]:
        where, args = "", ()
        if statuses:
            where, args = f"WHERE status IN ({','.join('?' * len(statuses))})", statuses
        return [dict(r) for r in self.query(
            "SELECT id, status, reason, priority, service, source, title, dedupe_key, created_at, "
            f"started_at, finished_at, alert_count, service_up FROM executions {where} "
            "ORDER BY seq DESC LIMIT ?", (*args, limit))]

    def tokens_since(self, since: float) -> int:
        """Tokens used by runs finished since ``since`` plus the estimates of running ones."""
        rows = self.query("SELECT COALESCE(SUM(tokens_used), 0) FROM executions WHERE finished_at>=? "
                          "AND tokens_used IS NOT NULL", (since,))
        running = self.query("SELECT COALESCE(SUM(token_estimate), 0) FROM executions WHERE status='running'")
        return rows[0][0] + running[0][0]

    def mean_recent_tokens(self, count: int = 20) -> int:
        rows = self.query("SELECT AVG(tokens_used) FROM (SELECT tokens_used FROM executions WHERE "
                          "tokens_used IS NOT NULL ORDER BY finished_at DESC LIMIT ?)", (count,))
        return round(rows[0][0] or 0)

    def counts(self) -> dict[str, dict[str, int]]:
        def grouped(sql: str) -> dict[str, int]:
            return {r[0]: r[1] for r in self.query(sql)}
        return {"executions": grouped("SELECT status, COUNT(*) FROM executions GROUP BY status"),
                "alerts": grouped("SELECT outcome, COUNT(*) FROM alerts GROUP BY outcome"),
                "deliveries": grouped("SELECT outcome, COUNT(*) FROM deliveries GROUP BY outcome"),
                "escalations": grouped("SELECT state, COUNT(*) FROM escalations GROUP BY state")}
