"""run_demo.py --list and --show (openhands_driver/lookup.py), and a reused --run-id refused."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver import lookup
from openhands_driver.errors import UserError
from openhands_driver.records import RunResult
from openhands_driver.trace import append_row
from target_service import faults

REPO = Path(__file__).resolve().parent.parent


def run_demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_demo.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def row(run_id: str, **extra) -> dict:
    base = {"schema_version": 1, "run_id": run_id, "scenario": "stale_lockfile", "mode": "optimized",
            "strategy_source": "skills", "skill_id": "stale-lockfile", "routing": {}, "brain": "runbook",
            "backend": "local", "simulate": False, "status": "fixed", "service_up": True, "step_count": 2,
            "started_at": "2026-11-29T00:00:00Z", "resolved": True,
            "ground_truth": {"fault_class": "stale_lockfile", "entity": "var/lock/x.lock"},
            "collateral": {"passed": True, "changed": [{"path": "var/lock/x.lock", "change": "deleted"}],
                           "diffs": [{"path": "var/lock/x.lock", "change": "deleted",
                                      "diff": "--- a/var/lock/x.lock\n+++ b/var/lock/x.lock\n@@ -1 +0,0 @@\n-4242"}]},
            "actions": [{"tool": "terminal", "command": "targetctl status", "risk": "LOW", "exit_code": 1},
                        {"tool": "terminal", "command": "rm var/lock/x.lock", "risk": "MEDIUM", "exit_code": 0,
                         "gate": "approved"}],
            "future_field": "kept"}
    return {**base, **extra}


class ListTest(unittest.TestCase):
    def test_every_scenario_fault_class_and_skill_has_one_line(self):
        proc = run_demo("--list")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        text = proc.stdout
        classes = text[text.index("Fault classes"):text.index("Skills (")].splitlines()[1:]
        skills = text[text.index("Skills ("):].splitlines()[1:]
        self.assertEqual(sorted(ln.split()[0] for ln in classes), sorted(faults.FAULT_CLASSES))
        self.assertTrue(all(len(ln.split()) > 1 for ln in classes + skills))  # each with its line of text
        self.assertIn("stale-lockfile", [ln.split()[0] for ln in skills])
        self.assertNotIn("openhands.sdk", proc.stderr)


class ShowTest(unittest.TestCase):
    def test_a_past_run_is_told_from_its_row(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            append_row(trace, row("older"))
            append_row(trace, row("r-1", status="not_fixed", resolved=False))
            append_row(trace, row("r-1"))  # the latest row of an id wins
            proc = run_demo("--show", "r-1", "--trace-log", str(trace))
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertTrue(proc.stdout.startswith("RESOLVED (proven)"), proc.stdout)
            self.assertIn("-4242", proc.stdout)
            self.assertIn("2. [MEDIUM, approved] terminal: rm var/lock/x.lock -> exit 0", proc.stdout)
            as_json = json.loads(run_demo("--show", "r-1", "--trace-log", str(trace), "--json").stdout)
            self.assertEqual(as_json["future_field"], "kept")
            missing = run_demo("--show", "nope", "--trace-log", str(trace))
            self.assertEqual(missing.returncode, 2)
            self.assertIn("no run 'nope'", missing.stderr)
            self.assertIn("r-1", missing.stderr)  # the recent ones are named

    def test_from_row_keeps_unknown_fields_and_tolerates_old_rows(self):
        result = RunResult.from_row({"run_id": "x", "actions": [{"tool": "terminal", "command": "ls",
                                                                 "gone_field": 1}, "garbage"]})
        self.assertEqual(result.run_id, "x")
        self.assertEqual([a.command for a in result.actions], ["ls"])
        self.assertIn("RESOLVED", lookup.story(row("y")).splitlines()[0])


class ReusedRunIdTest(unittest.TestCase):
    def test_a_given_run_id_already_in_the_log_is_refused_before_anything_starts(self):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            append_row(trace, row("taken"))
            proc = run_demo("--run-id", "taken", "--trace-log", str(trace))
            self.assertEqual(proc.returncode, 2, proc.stderr)
            self.assertIn("run id 'taken' is already in", proc.stderr)
            self.assertNotIn("starting the target", proc.stderr)
            from openhands_driver.crash_safety import check_run_id_unused

            check_run_id_unused(trace, "free")  # no error
            check_run_id_unused(Path(tmp) / "missing.jsonl", "taken")
            with self.assertRaises(UserError):
                check_run_id_unused(trace, "taken")


if __name__ == "__main__":
    unittest.main()
