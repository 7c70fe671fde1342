"""openhands_driver.reports.failures + scripts/failure_analysis.py on fixture traces (schema 1 and 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.reports.failures import analyse, classify, write
from openhands_driver.skills import load_skills
from openhands_driver.trace import append_row

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "trace_failures.jsonl"
V1_FIXTURE = ROOT / "tests" / "fixtures" / "trace_log_v1.jsonl"


class ClassifyTests(unittest.TestCase):
    def setUp(self) -> None:
        self.report = analyse([FIXTURE])
        self.by_id = {f.run_id: f for f in self.report.failures}

    def test_each_failure_gets_its_cause(self) -> None:
        expected = {"wrong-1": "wrong_diagnosis", "durable-1": "fix_not_durable", "gate-1": "gate_rejection",
                    "budget-1": "budget", "collateral-1": "collateral", "cmd-1": "command_errors",
                    "model-1": "model_error", "crash-1": "crashed"}
        self.assertEqual({k: f.cause for k, f in self.by_id.items()}, expected)

    def test_resolved_simulated_and_started_rows_are_not_failures(self) -> None:
        self.assertNotIn("ok-1", self.by_id)
        self.assertNotIn("sim-1", self.by_id)
        self.assertNotIn("started-only", self.by_id)
        self.assertEqual(self.report.rows, 10)  # read_rows drops the started row, counts the torn line
        self.assertEqual(self.report.skipped_lines, 1)
        self.assertEqual(self.report.by_schema, {"1": 3, "2": 7})

    def test_evidence_is_specific(self) -> None:
        self.assertIn("diagnosed 'chaos_schedule'", self.by_id["wrong-1"].evidence[0])
        self.assertIn("'feature_flag'", self.by_id["wrong-1"].evidence[0])
        self.assertIn("HTTP 503", self.by_id["durable-1"].evidence[0])
        self.assertIn("rm -rf opt/releases", self.by_id["gate-1"].evidence[0])
        self.assertIn("HIGH exceeds", self.by_id["gate-1"].evidence[0])
        self.assertTrue(any("cut by the step timeout" in e for e in self.by_id["budget-1"].evidence))
        self.assertEqual(self.by_id["collateral-1"].decoys_changed, ["var/lock/supervisor.lock"])
        cmd = self.by_id["cmd-1"]
        self.assertEqual([c["command"] for c in cmd.failing_commands], ["targetctl exec cat etc/resolv.conf"])
        self.assertIn("No such file", cmd.failing_commands[0]["output"])  # the failing probe is not an error

    def test_secondary_causes_are_kept(self) -> None:
        row = json.loads(FIXTURE.read_text().splitlines()[4])  # budget-1
        row["diagnosis"] = {"correct": False, "reported": {"fault_class": "unknown"}}
        failure = classify(row)
        self.assertEqual(failure.cause, "budget")
        self.assertEqual(failure.causes, ["budget", "wrong_diagnosis"])

    def test_old_v1_rows_without_proof_fields_are_read(self) -> None:
        report = analyse([V1_FIXTURE])
        self.assertEqual(report.by_schema.keys(), {"1"})
        for failure in report.failures:
            self.assertIn(failure.cause, ("unexplained", "command_errors", "budget", "model_error",
                                          "wrong_diagnosis", "crashed", "interrupted", "gate_rejection"))


class ProposalTests(unittest.TestCase):
    def test_proposals_are_diffs_that_apply_and_nothing_is_applied(self) -> None:
        skills = load_skills()
        before = {name: info.path.read_text(encoding="utf-8") for name, info in skills.items()}
        report = analyse([FIXTURE])
        self.assertEqual(set(report.proposals), {"bad-release", "chaos-schedule", "crash-loop", "dns-misconfig",
                                                 "feature-flag", "port-mismatch", "stale-lockfile"})
        notes = report.proposals
        self.assertIn("Missed in 1 run(s) (wrong-1)", notes["feature-flag"]["notes"][0])
        self.assertIn("where the fault was `feature_flag`", notes["chaos-schedule"]["notes"][0])
        self.assertIn("`targetctl restart`", notes["port-mismatch"]["notes"][0])
        self.assertIn("`var/lock/supervisor.lock`", notes["stale-lockfile"]["notes"][0])
        self.assertIn("`rm -rf opt/releases`", notes["bad-release"]["notes"][0])
        self.assertIn("`targetctl logs -f`", notes["crash-loop"]["notes"][0])
        with tempfile.TemporaryDirectory() as tmp:
            written = write(report, tmp)
            check = subprocess.run(["git", "apply", "--check", written["diff"]], cwd=ROOT, capture_output=True,
                                   text=True, timeout=30)
            self.assertEqual(check.returncode, 0, check.stderr)
            proposed = Path(tmp, "proposed", "feature-flag", "SKILL.md").read_text()
            self.assertIn("## Failure notes", proposed)
            self.assertTrue(proposed.startswith(before["feature-flag"].rstrip()))
            self.assertFalse(json.loads(Path(written["json"]).read_text())["applied"])
        after = {name: info.path.read_text(encoding="utf-8") for name, info in skills.items()}
        self.assertEqual(before, after)

    def test_rerun_replaces_its_own_section(self) -> None:
        from openhands_driver.reports.failures import _proposed_text

        once = _proposed_text("# S\n\n## Verify\nx\n", ["- a"], "t")
        twice = _proposed_text(once, ["- b"], "t")
        self.assertEqual(twice.count("## Failure notes"), 1)
        self.assertIn("- b", twice)
        self.assertNotIn("- a", twice)


class ScriptTests(unittest.TestCase):
    def run_script(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "failure_analysis.py"), *args],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)

    def test_markdown_json_and_output_dir(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            chained = Path(tmp, "chained.jsonl")  # a schema-2 log written through the audit chain
            for line in FIXTURE.read_text().splitlines()[:3]:
                append_row(chained, json.loads(line))
            done = self.run_script("--trace-log", str(FIXTURE), "--trace-log", str(chained), "--output", tmp)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("## Wrong or missing diagnosis (2)", done.stdout)
            self.assertIn("```diff", done.stdout)
            for name in ("failures.md", "failures.json", "skills.diff"):
                self.assertTrue(Path(tmp, name).is_file(), name)
            data = json.loads(self.run_script("--trace-log", str(FIXTURE), "--json").stdout)
            self.assertEqual(data["failed_runs"], 8)
            self.assertEqual(data["by_cause"]["gate_rejection"], ["gate-1"])

    def test_missing_log_is_exit_2(self) -> None:
        done = self.run_script("--trace-log", "/nonexistent/trace.jsonl")
        self.assertEqual(done.returncode, 2)
        self.assertIn("no trace log at /nonexistent/trace.jsonl", done.stderr)
        self.assertNotIn("Traceback", done.stderr)


if __name__ == "__main__":
    unittest.main()
