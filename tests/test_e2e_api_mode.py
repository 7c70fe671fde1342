"""End to end, API-only mode (``--toolset api``): blind incidents of the four classes whose platform
operations the /ops/* API offers, each resolved by the runbook brain through a real SDK conversation
with no terminal and no file editor (checked on the tools the agent was really built with), proven
by the runner (verifier, oracle, durability, collateral). Nothing the API tools returned names the
fault class."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver.api_tools import TOOL_NAMES
from openhands_driver.config import RunConfig
from openhands_driver.runner import run_incident
from target_service import faults
from tests.support.runs import NullConsole

CLASSES = ("feature_flag", "chaos_schedule", "bad_release", "scaled_to_zero")
SEED = 31  # nothing was tuned on it
ALLOWED = set(TOOL_NAMES) | {"invoke_skill", "finish", "think"}


def _forms(name: str) -> list[str]:
    words = name.split("_")
    return ["_".join(words), "-".join(words), " ".join(words), "".join(words)]


class ApiModeRuns(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        catalog = Path(cls.tmp.name) / "classes.json"
        catalog.write_text(json.dumps({"schema_version": 1, "scenarios": [
            {"scenario_id": n, "local_fault": n, "error_report": "(blind)"} for n in sorted(faults.FAULT_CLASSES)]}))
        cls.catalog, cls.trace = catalog, Path(cls.tmp.name) / "trace.jsonl"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_blind_incidents_resolved_with_no_terminal_and_no_file_editor(self) -> None:
        for fault in CLASSES:
            with self.subTest(fault=fault):
                config = RunConfig(scenario=fault, training_data=self.catalog, blind=True, variant_seed=SEED,
                                   trace_log=self.trace, verify_interval_s=0.3, soak_s=1.0, toolset="api")
                result = run_incident(config, console=NullConsole())
                data = result.to_dict()
                self.assertTrue(result.resolved, json.dumps({k: data[k] for k in (
                    "status", "error", "diagnosis", "mitigation", "collateral", "agent_message")},
                    default=str)[:3000])
                self.assertTrue(result.diagnosis["correct"], result.diagnosis)
                self.assertTrue(result.durability["restarted"])
                self.assertEqual(result.toolset, "api")
                # the tools the agent was built with: the API tools, never a terminal or an editor
                self.assertTrue(result.agent_tools)
                self.assertTrue({"call_ops_endpoint", "scale_service"} <= set(result.agent_tools))
                for forbidden in ("terminal", "file_editor", "sandboxed_file_editor", "execute_bash"):
                    self.assertNotIn(forbidden, result.agent_tools)
                self.assertLessEqual({a.tool for a in result.actions}, ALLOWED)
                self.assertIsNotNone(result.mttd_s)
                # what the platform API told the agent never names the fault class
                told = "\n".join(a.output_excerpt for a in result.actions
                                 if a.tool in TOOL_NAMES).lower()
                for word in _forms(fault):
                    self.assertNotIn(word.lower(), told)
                row = [json.loads(line) for line in self.trace.read_text().splitlines()][-1]
                self.assertEqual((row["run_id"], row["toolset"]), (result.run_id, "api"))
                self.assertNotIn("terminal", row["agent_tools"])

    def test_safety_gates_stop_platform_changes_before_they_run(self) -> None:
        config = RunConfig(scenario="feature_flag", training_data=self.catalog, blind=True, variant_seed=SEED,
                           trace_log=self.trace, verify_interval_s=0.3, soak_s=1.0, toolset="api",
                           require_confirmation_for_risk="MEDIUM", run_timeout_s=35)
        result = run_incident(config, console=NullConsole())
        posts = [a for a in result.actions if a.tool == "call_ops_endpoint" and '"POST"' in a.command]
        self.assertTrue(posts)
        self.assertTrue(all(a.risk == "MEDIUM" and a.gate == "rejected" for a in posts), posts)
        reads = [a for a in result.actions if a.tool == "call_ops_endpoint" and '"GET"' in a.command]
        self.assertTrue(reads and all(a.risk == "LOW" and a.gate == "allowed" for a in reads))
        self.assertFalse(result.resolved)
        self.assertFalse(result.mitigation["passed"])  # the flag was never changed
        self.assertEqual(result.collateral["changed"], [])


class DockerApiModeRuns(unittest.TestCase):
    """The same in a container (the supervisor there serves /ops/* too). Needs a Docker engine with
    host networking: a bridged container does not publish the ops port."""

    def test_blind_incident_resolved_in_a_container_with_no_shell(self) -> None:
        from openhands_driver.target.docker_engine import network_mode
        from tests.test_target_docker import require_engine

        engine = require_engine()
        if network_mode(engine["client"]) != "host":
            self.skipTest("the engine gives containers a bridge network: the ops port is not published")
        with tempfile.TemporaryDirectory() as tmp:
            config = RunConfig(scenario="bad_release", blind=True, variant_seed=SEED, backend="docker",
                               trace_log=Path(tmp) / "trace.jsonl", verify_interval_s=0.3, soak_s=1.0,
                               toolset="api")
            result = run_incident(config, console=NullConsole())
        self.assertTrue(result.resolved, (result.status, result.error, result.diagnosis, result.mitigation))
        self.assertNotIn("terminal", result.agent_tools)
        self.assertIn("call_ops_endpoint", result.agent_tools)


class ApiModePlanTests(unittest.TestCase):
    def test_dry_run_plans_the_api_checklist_and_orders(self) -> None:
        from openhands_driver.errors import UserError
        from openhands_driver.runner import plan_incident

        plan = plan_incident(RunConfig(scenario="feature_flag", blind=True, variant_seed=3, toolset="api",
                                       simulate=True, disable_trace_log=True))
        self.assertEqual(plan.to_dict()["steps"]["diagnose"][0], "GET /ops/status")
        self.assertIn("no terminal and no file editor", plan.message)
        self.assertNotIn("targetctl", plan.message)
        with self.assertRaisesRegex(UserError, "drop --remote-host"):
            plan_incident(RunConfig(scenario="feature_flag", blind=True, variant_seed=3, toolset="api",
                                    remote_host="http://127.0.0.1:9"))
        with self.assertRaisesRegex(UserError, "Valid toolsets: shell, api"):
            plan_incident(RunConfig(scenario="feature_flag", blind=True, variant_seed=3, toolset="ssh"))


if __name__ == "__main__":
    unittest.main()
