"""An execution's findings as records of their own (schema_version 4; intake/findings.py).

``hypotheses`` (what the router, the runbooks the agent loaded and its structured diagnosis said
the cause was; status validated | refuted | inconclusive, confidence = the share of decided
evidence that supports it), ``evidence`` (each observation for or against a hypothesis: an action's
output, the ground-truth comparison, the oracle, the verifier, durability), ``verifications`` (each
check of the runner's proof: verifier probes, oracle checks, durability, collateral, resolved) and
``provenance`` (where each part of the execution came from: the alert, the run and its trace, the
brain, the skills, the target, the report).

Revision ID: 0002_findings
Revises: 0001_base
"""

from alembic import op
from sqlalchemy import text

revision = "0002_findings"
down_revision = "0001_base"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE IF NOT EXISTS hypotheses (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
  source TEXT NOT NULL, hypothesis_text TEXT NOT NULL, fault_class TEXT, entity TEXT,
  confidence_score REAL, status TEXT NOT NULL, status_reason TEXT NOT NULL DEFAULT '',
  step INTEGER, created_at REAL NOT NULL, UNIQUE (execution_id, ordinal));
CREATE INDEX IF NOT EXISTS hypotheses_execution ON hypotheses(execution_id, ordinal);
CREATE TABLE IF NOT EXISTS evidence (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL,
  hypothesis_id INTEGER NOT NULL REFERENCES hypotheses(id), source TEXT NOT NULL, step INTEGER,
  detail TEXT NOT NULL, supports INTEGER, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS evidence_execution ON evidence(execution_id, hypothesis_id);
CREATE TABLE IF NOT EXISTS verifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, kind TEXT NOT NULL,
  name TEXT NOT NULL, passed INTEGER, detail TEXT NOT NULL, data TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS verifications_execution ON verifications(execution_id, id);
CREATE TABLE IF NOT EXISTS provenance (
  id INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, subject TEXT NOT NULL,
  source TEXT NOT NULL, ref TEXT, detail TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS provenance_execution ON provenance(execution_id, id);
"""


def upgrade() -> None:
    for statement in (s.strip() for s in TABLES.split(";")):
        if statement:
            op.execute(statement)
    op.get_bind().execute(text("UPDATE meta SET value='4' WHERE key='schema_version' AND value='3'"))


def downgrade() -> None:
    for table in ("evidence", "hypotheses", "verifications", "provenance"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.get_bind().execute(text("UPDATE meta SET value='3' WHERE key='schema_version' AND value='4'"))
