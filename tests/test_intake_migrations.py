"""Intake schema migrations (intake/migrations/, Alembic): a fresh database, and databases written by
earlier store.py versions (tests/fixtures/intake/store_schema_v1.sql and _v3.sql, dumps of files those
versions' Store made), upgrade to HEAD with every row and the audit chain intact; the store runs the
upgrade at start and holds no DDL of its own."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.audit.verify import verify_db
from openhands_driver.errors import UserError
from openhands_driver.intake import migrations
from openhands_driver.intake.payloads import Incident
from openhands_driver.intake.store import SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "intake"
OLD_TABLES = ("deliveries", "alerts", "executions", "timeline", "actions", "escalations", "escalation_attempts")
NEW_TABLES = ("hypotheses", "evidence", "verifications", "provenance")


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def rows(path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        conn.close()


class MigrationTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="intake-migrations-")
        self.addCleanup(self._tmp.cleanup)
        self.db = Path(self._tmp.name) / "intake.db"

    def from_fixture(self, name: str) -> Path:
        conn = sqlite3.connect(self.db)
        conn.executescript((FIXTURES / f"store_schema_{name}.sql").read_text(encoding="utf-8"))
        conn.close()
        return self.db

    def finish_one(self, store: Store) -> str:
        """A run recorded on the (migrated) database, findings included."""
        incident = Incident(source="servicenow", title="INC9: down", text="down", priority="P1", service="orders",
                            dedupe_key="servicenow:INC9", labels={"incident_number": "INC9"})
        [out] = store.accept("servicenow", {"n": 9}, [(incident, {"kind": "demo", "reason": "demo"})], 2e9, 60)
        store.transition(out["execution_id"], "running", "claimed", 2e9 + 1, ("queued",))
        action = {"phase": "verify", "tool": "terminal", "command": "targetctl status", "risk": "LOW",
                  "exit_code": 0, "duration_s": 0.1, "summary": "verify", "result": "ok", "output_excerpt": "HTTP 200"}
        run = {"run_id": "r9", "status": "fixed", "service_up": True, "verification": {
            "verified": True, "url": "http://127.0.0.1:9/", "attempts": [{"attempt": 1, "ok": True}]}}
        self.assertTrue(store.finish_run(out["execution_id"], "fixed", "ok", 2e9 + 2, run=run, actions=[action],
                                         phases=[]))
        return out["execution_id"]

    def test_head_is_alembics_head(self):
        from alembic.script import ScriptDirectory

        self.assertEqual(ScriptDirectory.from_config(migrations.config()).get_current_head(), migrations.HEAD)

    def test_a_fresh_database_is_created_at_head(self):
        store = Store(self.db)
        self.addCleanup(store.close)
        self.assertEqual(migrations.current(self.db), migrations.HEAD)
        self.assertTrue(set(OLD_TABLES + NEW_TABLES + ("audit", "meta", "approvals")) <= tables(self.db))
        execution_id = self.finish_one(store)
        found = store.findings(execution_id)
        self.assertEqual([v["kind"] for v in found["verifications"]], ["verifier", "verifier"])
        self.assertEqual(found["provenance"][0]["ref"], "INC9")

    def test_a_database_of_todays_store_upgrades_with_its_rows_and_chain_intact(self):
        self.from_fixture("v3")
        self.assertIsNone(migrations.current(self.db))
        before = {t: rows(self.db, t) for t in OLD_TABLES + ("audit",)}
        self.assertTrue(before["actions"] and before["escalations"] and before["audit"])
        self.assertTrue(verify_db(self.db).ok)
        store = Store(self.db)
        self.addCleanup(store.close)
        self.assertEqual(migrations.current(self.db), migrations.HEAD)
        self.assertEqual(store.query("SELECT value FROM meta WHERE key='schema_version'")[0][0], str(SCHEMA_VERSION))
        for table, old in before.items():
            self.assertEqual(rows(self.db, table), old, table)
        self.finish_one(store)  # the upgraded file takes new runs and their findings
        report = verify_db(self.db)
        self.assertTrue(report.ok, report.summary())
        self.assertEqual(len(rows(self.db, "hypotheses")), 0)  # the run had no routing, skill or diagnosis
        self.assertEqual(len(rows(self.db, "verifications")), 2)

    def test_a_schema_1_database_gains_the_lease_columns(self):
        self.from_fixture("v1")
        conn = sqlite3.connect(self.db)
        self.assertNotIn("lease_token", {r[1] for r in conn.execute("PRAGMA table_info(executions)")})
        conn.close()
        before = rows(self.db, "executions")
        store = Store(self.db)
        self.addCleanup(store.close)
        columns = [r[1] for r in store.query("PRAGMA table_info(executions)")]
        self.assertTrue({"lease_owner", "lease_token", "paused_run", "resume_note"} <= set(columns))
        after = [r[:len(before[0])] for r in rows(self.db, "executions")]
        self.assertEqual(after, before)
        self.assertTrue({"audit", "approvals"} <= tables(self.db))

    def test_downgrade_and_upgrade_again(self):
        Store(self.db).close()
        from alembic import command
        from sqlalchemy import create_engine

        engine = create_engine(f"sqlite:///{self.db}")
        with engine.begin() as connection:
            command.downgrade(migrations.config(connection), "0001_base")
        engine.dispose()
        self.assertEqual(migrations.current(self.db), "0001_base")
        self.assertFalse(set(NEW_TABLES) & tables(self.db))
        Store(self.db).close()
        self.assertEqual(migrations.current(self.db), migrations.HEAD)
        self.assertTrue(set(NEW_TABLES) <= tables(self.db))

    def test_a_database_of_a_newer_version_is_refused_with_the_fix(self):
        Store(self.db).close()
        conn = sqlite3.connect(self.db)
        conn.execute("UPDATE alembic_version SET version_num='9999_future'")
        conn.commit()
        conn.close()
        with self.assertRaises(UserError) as caught:
            Store(self.db)
        self.assertIn("newer version", str(caught.exception))
        self.assertIn("9999_future", str(caught.exception))

    def test_two_processes_starting_on_one_old_file_migrate_it_once(self):
        self.from_fixture("v3")
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from openhands_driver.intake.store import Store; "
                "Store(sys.argv[2]).close()")
        procs = [subprocess.Popen([sys.executable, "-c", code, str(REPO), str(self.db)], stderr=subprocess.PIPE)
                 for _ in range(2)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 0, err.decode(errors="replace")[-2000:])
        self.assertEqual(rows(self.db, "alembic_version"), [(migrations.HEAD,)])

    def test_store_holds_no_ddl(self):
        source = (REPO / "openhands_driver" / "intake" / "store.py").read_text(encoding="utf-8")
        self.assertIsNone(re.search(r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b", source, re.IGNORECASE))


if __name__ == "__main__":
    unittest.main()
