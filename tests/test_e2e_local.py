"""End to end on the embedded default: real local target, real SDK conversation driven by the
runbook brain through its OpenAI-compatible endpoint, real verifier, real trace rows.

The SDK is imported once for the whole class (in-process runs), so each incident costs seconds.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.runner import run_incident
from openhands_driver.scenarios import load_catalog
from openhands_driver.trace import TRACE_SCHEMA_VERSION, read_rows
from tests.support.runs import NullConsole as _Quiet, pg_alive as _pg_alive

REPO = Path(__file__).resolve().parent.parent
FAULT_SCENARIOS = ["stale_lockfile", "readiness_probe_fail", "port_mismatch", "bad_env_config"]


class EndToEndLocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = Path(cls.tmp.name) / "trace.jsonl"
        cls.results = {}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_one(self, scenario: str, mode: str = "optimized", **kw):
        key = (scenario, mode, tuple(sorted(kw.items())))
        if key not in self.results:
            config = RunConfig(scenario=scenario, mode=mode, trace_log=self.trace,
                               verify_interval_s=0.3, **kw)
            self.results[key] = run_incident(config, console=_Quiet())
        return self.results[key]

    def assert_fixed(self, result):
        self.assertEqual(result.status, "fixed", result.to_dict())
        self.assertTrue(result.service_up)
        self.assertTrue(result.verification["verified"])
        self.assertEqual(result.brain, "runbook")
        self.assertGreater(result.step_count, 0)
        self.assertEqual(result.step_count, len(result.actions))
        pgid = result.target["pid"]
        self.assertFalse(_pg_alive(pgid), "target process group must be gone after the run")
        rows = [r for r in read_rows(self.trace) if r["run_id"] == result.run_id]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["schema_version"], TRACE_SCHEMA_VERSION)
        self.assertTrue(rows[0]["service_up"])

    def test_every_fault_fixed_in_optimized_mode_by_its_skill(self):
        for scenario in FAULT_SCENARIOS:
            with self.subTest(scenario=scenario):
                result = self.run_one(scenario)
                self.assert_fixed(result)
                self.assertEqual(result.skill_id, scenario.replace("_", "-"))
                tools = [a.tool for a in result.actions]
                self.assertEqual(tools[-1], "finish")
                commands = " ".join(a.command for a in result.actions)
                self.assertIn("targetctl status", commands)

    def test_baseline_has_no_knowledge_so_it_escalates_and_changes_nothing(self):
        # Baseline: a generic checklist, no skills, and a brain with no fixes of its own. It gathers
        # the symptoms, finds no runbook that explains them, changes nothing and escalates: the
        # gap to the skills is measured, not assumed (see scripts/bench_blind.py).
        for scenario in FAULT_SCENARIOS:
            with self.subTest(scenario=scenario):
                optimized = self.run_one(scenario)
                baseline = self.run_one(scenario, mode="baseline")
                self.assert_fixed(optimized)
                self.assertTrue(optimized.resolved)
                self.assertEqual(baseline.status, "not_fixed")
                self.assertFalse(baseline.resolved)
                self.assertIsNone(baseline.skill_id)
                self.assertFalse(any(a.tool == "invoke_skill" for a in baseline.actions))
                self.assertTrue(baseline.collateral["passed"])
                self.assertEqual(baseline.collateral["changed"], [])
                self.assertIn("Escalating", baseline.agent_message)

    def test_manual_strategy_fixes_faults(self):
        for scenario in ("stale_lockfile", "port_mismatch"):
            with self.subTest(scenario=scenario):
                result = self.run_one(scenario, strategy_source="manual")
                self.assert_fixed(result)
                self.assertEqual(result.strategy_source, "manual")

    def test_healthy_scenario_changes_nothing(self):
        result = self.run_one("healthy")
        self.assert_fixed(result)
        self.assertIsNone(result.skill_id)
        self.assertEqual(result.routing["method"], "none")
        terminal = [a.command for a in result.actions if a.tool == "terminal"]
        self.assertEqual(terminal, ["targetctl status"])

    def test_forced_wrong_skill_is_not_fixed_and_says_so(self):
        result = self.run_one("port_mismatch", skill_id="readiness-probe-fail")
        self.assertEqual(result.status, "not_fixed")
        self.assertFalse(result.service_up)
        self.assertFalse(result.verification["verified"])
        self.assertTrue(all(not a["ok"] for a in result.verification["attempts"]))

    def test_actions_record_risk_exit_code_and_duration(self):
        result = self.run_one("stale_lockfile")
        for action in result.actions:
            public = action.public()
            self.assertEqual(set(public) >= {"tool", "command", "risk", "exit_code", "duration_s"}, True)
        terminal = [a for a in result.actions if a.tool == "terminal"]
        self.assertTrue(all(a.exit_code == 0 for a in terminal))
        self.assertTrue(all(a.duration_s is not None and a.duration_s >= 0 for a in terminal))
        row = [r for r in read_rows(self.trace) if r["run_id"] == result.run_id][0]
        self.assertIn("fault_present", " ".join(a["output_excerpt"] for a in row["actions"]))
        self.assertEqual(row["tokens"], {"input": 0, "output": 0})


class InterruptTest(unittest.TestCase):
    """Ctrl-C during a real run: exit 130, target cleaned up, trace row written — once the target is
    up, and while it is still starting (the first line comes before the SDK has loaded)."""

    def test_sigint_during_start_up_cleans_up_and_records(self):
        self.interrupt_after("starting the target")

    def test_sigint_cleans_up_and_records(self):
        self.interrupt_after("up at")

    def interrupt_after(self, needle: str):
        with tempfile.TemporaryDirectory() as tmp:
            trace = Path(tmp) / "trace.jsonl"
            proc = subprocess.Popen(
                [sys.executable, str(REPO / "run_demo.py"), "--scenario", "stale_lockfile",
                 "--trace-log", str(trace), "--run-id", f"interrupt-{needle.split()[0]}", "--json"],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 60
                line = ""
                while time.monotonic() < deadline:
                    line = proc.stderr.readline()
                    if "[runner]" in line and needle in line or not line:
                        break
                self.assertIn(needle, line)
                proc.send_signal(signal.SIGINT)
                proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            self.assertEqual(proc.returncode, 130)
            rows = read_rows(trace)
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows[0]["status"], "interrupted")
            self.assertIsNone(rows[0]["service_up"])
            target = rows[0]["target"]
            if target.get("pid") is not None:  # (interrupted before it spawned: nothing to stop)
                self.assertFalse(_pg_alive(target["pid"]))
            if target.get("root"):
                self.assertFalse(Path(target["root"]).exists(), target)  # the service root is gone too


class CatalogCoverageTest(unittest.TestCase):
    def test_e2e_covers_every_fault_scenario_in_the_catalog(self):
        catalog = load_catalog()
        faults = {s.scenario_id for s in catalog.scenarios if s.local_fault}
        self.assertEqual(faults, set(FAULT_SCENARIOS))


if __name__ == "__main__":
    unittest.main()
