"""Pending confirmations in the intake's database (openhands_driver/intake/approvals.py): the
worker's DbApprover waits for a decision, decide() makes it exactly once, a wait that outlives its
timeout expires and rejects. The dashboard's buttons over a running intake are in test_dashboard.py."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
import unittest
from pathlib import Path

from openhands_driver.gates import Proposal
from openhands_driver.intake import approvals
from openhands_driver.security import RiskAssessment


def _db(tmp: str) -> Path:
    db = Path(tmp) / "a.db"
    sqlite3.connect(db).executescript("CREATE TABLE timeline (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                                      "execution_id TEXT, at REAL, kind TEXT, name TEXT, detail TEXT);")
    approvals.ensure_schema(db)
    return db


PROPOSAL = Proposal("c", "terminal", "rm var/lock/x", RiskAssessment("MEDIUM", ("changes the target",)), None,
                    "MEDIUM")


class DecideTest(unittest.TestCase):
    def test_a_decision_reaches_the_waiting_run_once(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = _db(tmp)
            out = []
            waiter = threading.Thread(target=lambda: out.append(
                approvals.DbApprover(str(db), "e1", timeout_s=20, poll_s=0.05)(PROPOSAL)))
            waiter.start()
            deadline = time.monotonic() + 10
            while not approvals.listing(db, state="pending") and time.monotonic() < deadline:
                time.sleep(0.05)
            pending = approvals.listing(db, state="pending")
            self.assertEqual(len(pending), 1)
            self.assertEqual(pending[0]["reasons"], ["changes the target"])
            self.assertEqual(approvals.pending_counts(db), {"e1": 1})
            with self.assertRaises(approvals.DecisionError):
                approvals.decide(db, pending[0]["id"], "edit", by="op")
            approvals.decide(db, pending[0]["id"], "reject", by="op", reason="not now")
            waiter.join(10)
            self.assertEqual(out[0].verdict, "reject")
            self.assertIn("rejected by op: not now", out[0].reason)
            with self.assertRaises(approvals.DecisionError):
                approvals.decide(db, pending[0]["id"], "approve", by="op")
            notes = [r[0] for r in sqlite3.connect(db).execute("SELECT detail FROM timeline ORDER BY id")]
            self.assertEqual(len(notes), 2)
            self.assertTrue(notes[1].startswith("rejected by op"))


class ApproverTimeoutTest(unittest.TestCase):
    def test_no_decision_expires_and_rejects(self):
        with tempfile.TemporaryDirectory() as tmp:
            db = _db(tmp)
            decision = approvals.DbApprover(str(db), "e1", timeout_s=0.3, poll_s=0.05)(PROPOSAL)
            self.assertEqual(decision.verdict, "reject")
            self.assertIn("no operator decided", decision.reason)
            self.assertEqual(approvals.listing(db)[0]["state"], "expired")
            with self.assertRaises(approvals.DecisionError):
                approvals.decide(db, 1, "approve", by="late")


if __name__ == "__main__":
    unittest.main()
