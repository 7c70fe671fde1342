"""The intake schema as store.py (and approvals.py, its ``approvals`` table) created it before
migrations (schema_version 3).

Idempotent on every file an earlier store.py wrote: tables and indexes are created only when
missing, schema 1 files gain the lease and handoff columns (schema 2 and 3 of the old in-place
code), and ``meta.schema_version`` becomes 3 unless it is already that.

Revision ID: 0001_base
Revises:
"""

from alembic import op
from sqlalchemy import text

revision = "0001_base"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL, source TEXT NOT NULL,
  outcome TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, source TEXT NOT NULL,
  dedupe_key TEXT NOT NULL, service TEXT NOT NULL, priority TEXT NOT NULL, title TEXT NOT NULL,
  incident TEXT NOT NULL, plan TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, updated_at REAL NOT NULL, expires_at REAL NOT NULL,
  started_at REAL, finished_at REAL, attempts INTEGER NOT NULL DEFAULT 0,
  alert_count INTEGER NOT NULL DEFAULT 1, token_estimate INTEGER NOT NULL DEFAULT 0,
  tokens_used INTEGER, run_id TEXT, service_up INTEGER, verification TEXT, result TEXT,
  report_path TEXT);
CREATE INDEX IF NOT EXISTS executions_queue ON executions(status, priority, seq);
CREATE INDEX IF NOT EXISTS executions_dedupe ON executions(dedupe_key, status);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id INTEGER NOT NULL, received_at REAL NOT NULL,
  source TEXT NOT NULL, dedupe_key TEXT NOT NULL, outcome TEXT NOT NULL, execution_id TEXT);
CREATE TABLE IF NOT EXISTS timeline (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, at REAL NOT NULL,
  kind TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS timeline_execution ON timeline(execution_id, id);
CREATE TABLE IF NOT EXISTS actions (
  execution_id TEXT NOT NULL, seq INTEGER NOT NULL, phase TEXT NOT NULL, tool TEXT NOT NULL,
  command TEXT NOT NULL, risk TEXT NOT NULL, exit_code INTEGER, duration_s REAL,
  summary TEXT NOT NULL, result TEXT NOT NULL, output_excerpt TEXT NOT NULL,
  PRIMARY KEY (execution_id, seq));
CREATE TABLE IF NOT EXISTS escalations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, reason TEXT NOT NULL,
  dedup_key TEXT NOT NULL, event TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, next_attempt_at REAL NOT NULL, sent_at REAL, last_error TEXT);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, kind TEXT NOT NULL, ref TEXT,
  entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS escalation_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, escalation_id INTEGER NOT NULL, at REAL NOT NULL,
  ok INTEGER NOT NULL, http_status INTEGER, error TEXT, duration_s REAL NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, tool_call_id TEXT NOT NULL,
  tool TEXT NOT NULL, command TEXT NOT NULL, risk TEXT NOT NULL, policy_risk TEXT NOT NULL,
  model_risk TEXT, reasons TEXT NOT NULL, state TEXT NOT NULL, created_at REAL NOT NULL,
  decided_at REAL, decided_by TEXT, reason TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS approvals_execution ON approvals(execution_id, id);
CREATE INDEX IF NOT EXISTS approvals_state ON approvals(state);
"""

# schema 2: execution leases (lease.py); schema 3: operator handoff (handoff.py)
EXECUTION_COLUMNS = {"lease_owner": "TEXT", "lease_token": "INTEGER NOT NULL DEFAULT 0",
                     "lease_heartbeat": "REAL", "worker_owner": "TEXT", "remediation_at": "REAL",
                     "paused_run": "TEXT", "resume_note": "TEXT"}


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def upgrade() -> None:
    bind = op.get_bind()
    for statement in statements(TABLES):
        op.execute(statement)
    columns = {row[1] for row in bind.execute(text("PRAGMA table_info(executions)"))}
    for name, kind in EXECUTION_COLUMNS.items():
        if name not in columns:
            op.execute(f"ALTER TABLE executions ADD COLUMN {name} {kind}")
    row = bind.execute(text("SELECT value FROM meta WHERE key='schema_version'")).fetchone()
    if row is None:
        op.execute(f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}')")
    elif int(row[0]) < SCHEMA_VERSION:
        op.execute(f"UPDATE meta SET value='{SCHEMA_VERSION}' WHERE key='schema_version'")


def downgrade() -> None:
    raise NotImplementedError("the base revision has no downgrade: it is the schema before migrations")
