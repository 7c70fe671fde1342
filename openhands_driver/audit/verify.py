"""Check a trace log (JSONL) or the intake database end to end (``scripts/verify_audit.py check``).

A trace log: every line in file order (torn lines counted as unreadable). The intake database:
the ``audit`` table in id order, then a cross-check of the rows it records that must never change
(timeline rows, deliveries) against their entries, so an edit of the table itself is named too.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from openhands_driver.audit.chain import ChainReport, Problem, verify_entries
from openhands_driver.errors import UserError


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def verify_trace(path: str | Path, keyset: dict | None = None, keyset_name: str | None = None) -> ChainReport:
    path = Path(path)
    items: list[tuple[str, object]] = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            value = None
        items.append((f"line {number}", value if isinstance(value, dict) else None))
    return verify_entries(items, str(path), keyset, keyset_name, ref_key="run_id")


def verify_db(path: str | Path, keyset: dict | None = None, keyset_name: str | None = None) -> ChainReport:
    path = Path(path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "audit" not in tables:
            raise UserError(f"{path} has no audit table (an intake database of schema < 3): open it once "
                            "with the current intake to migrate it; earlier records cannot be checked")
        items: list[tuple[str, object]] = []
        for row in db.execute("SELECT id, entry FROM audit ORDER BY id"):
            try:
                value = json.loads(row["entry"])
            except (TypeError, ValueError):
                value = None
            items.append((f"audit id {row['id']}", value if isinstance(value, dict) else None))
        report = verify_entries(items, str(path), keyset, keyset_name, ref_key="ref")
        _cross_check(db, items, report)
        first = db.execute("SELECT MIN(at) FROM audit").fetchone()[0]
        legacy = db.execute("SELECT COUNT(*) FROM executions WHERE created_at < ?",
                            (first if first is not None else float("inf"),)).fetchone()[0]
        if legacy:
            report.legacy += legacy
            report.notes.append(f"{legacy} executions predate the audit table (unchained legacy)")
        return report
    finally:
        db.close()


def _cross_check(db: sqlite3.Connection, items, report: ChainReport) -> None:
    """Timeline rows and deliveries must still be what their audit entries recorded."""
    timeline = {r["id"]: dict(r) for r in db.execute("SELECT id, execution_id, kind, name, detail FROM timeline")}
    seen: set[int] = set()
    for where, entry in items:
        if not isinstance(entry, dict) or entry.get("kind") != "timeline":
            continue
        record = entry.get("record") or {}
        row_id = record.get("id")
        seen.add(row_id)
        row = timeline.get(row_id)
        if row is None:
            report.problems.append(Problem("removed", f"timeline id {row_id}", None, f"recorded at {where} but "
                                           "no longer in the timeline table", record.get("execution_id")))
        elif any(row[k] != record.get(k) for k in ("execution_id", "kind", "name", "detail")):
            report.problems.append(Problem("changed", f"timeline id {row_id}", None, f"differs from its audit "
                                           f"entry at {where}", record.get("execution_id")))
    first_audited = min((i for i in seen if isinstance(i, int)), default=None)
    for row_id, row in sorted(timeline.items()):
        if first_audited is not None and row_id > first_audited and row_id not in seen:
            report.problems.append(Problem("inserted", f"timeline id {row_id}", None, "a timeline row with no "
                                           "audit entry (added outside the intake)", row["execution_id"]))
    deliveries = {r["id"]: dict(r) for r in db.execute("SELECT id, source, outcome, reason FROM deliveries")}
    for where, entry in items:
        if not isinstance(entry, dict) or entry.get("kind") != "delivery":
            continue
        record = entry.get("record") or {}
        row = deliveries.get(record.get("id"))
        if row is None:
            report.problems.append(Problem("removed", f"delivery id {record.get('id')}", None,
                                           f"recorded at {where} but no longer in the deliveries table", None))
        elif any(row[k] != record.get(k) for k in ("source", "outcome", "reason")):
            report.problems.append(Problem("changed", f"delivery id {record.get('id')}", None,
                                           f"differs from its audit entry at {where}", None))


def verify_path(path: str | Path, keyset_path: str | Path | None = None) -> ChainReport:
    """A trace log or an intake database, whichever ``path`` is; UserError when it is neither."""
    from openhands_driver.audit import keys

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; pass a trace log (artifacts/runs/trace_log.jsonl) or an "
                        "intake database (artifacts/intake/intake.db)")
    keyset = keys.load_keyset(keyset_path) if keyset_path else None
    name = str(keyset_path) if keyset_path else None
    return verify_db(path, keyset, name) if is_sqlite(path) else verify_trace(path, keyset, name)
