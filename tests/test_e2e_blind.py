"""End to end, blind: a real target provisioned from a variant seed, a real SDK conversation, the
runbook brain diagnosing from symptoms through the skill catalog, and the runner's proof
(verifier, diagnosis, mitigation oracle, durability, collateral).

Also: everything sent to the model during a blind run is recorded, and nothing in it names the
scenario, the fault class or the chosen runbook before the agent chose it itself; the brain served
standalone (`python -m openhands_driver.brain`) decides exactly as the built-in default does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from pathlib import Path

from openhands_driver.brain import server as brain_server
from openhands_driver.config import RunConfig
from openhands_driver.runner import run_incident
from target_service import faults
from tests.support.runs import NullConsole

REPO = Path(__file__).resolve().parent.parent
SEEDS = (11, 12)  # seeds nothing was tuned on
ALL_CLASSES = sorted(name for name in faults.FAULT_CLASSES if name != faults.HEALTHY)


def _forms(name: str) -> list[str]:
    """A fault class id in every spelling that would name it."""
    words = name.split("_")
    return ["_".join(words), "-".join(words), " ".join(words), "".join(words)]


class BlindRuns(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.trace = Path(cls.tmp.name) / "trace.jsonl"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def run_blind(self, fault: str, seed: int, **kw):
        catalog = Path(self.tmp.name) / "classes.json"
        if not catalog.exists():
            records = [{"scenario_id": n, "local_fault": n, "error_report": "(blind)"}
                       for n in sorted(faults.FAULT_CLASSES)]
            catalog.write_text(json.dumps({"schema_version": 1, "scenarios": records}))
        config = RunConfig(scenario=fault, training_data=catalog, blind=True, variant_seed=seed,
                           trace_log=self.trace, verify_interval_s=0.3, soak_s=1.0, **kw)
        return run_incident(config, console=NullConsole())

    def assert_resolved(self, result) -> None:
        data = result.to_dict()
        self.assertTrue(result.resolved, json.dumps({k: data[k] for k in (
            "status", "diagnosis", "mitigation", "durability", "collateral", "agent_message")},
            indent=1, default=str)[:3000])
        self.assertTrue(result.diagnosis["correct"], result.diagnosis)
        self.assertTrue(result.mitigation["passed"])
        self.assertTrue(result.durability["passed"] and result.durability["restarted"])
        self.assertTrue(result.collateral["passed"])
        self.assertIsNotNone(result.mttr_s)

    def test_every_fault_class_resolved_blind_by_the_runbook_brain(self) -> None:
        for fault in ALL_CLASSES:
            for seed in SEEDS[:1]:
                with self.subTest(fault=fault, seed=seed):
                    result = self.run_blind(fault, seed)
                    self.assert_resolved(result)
                    self.assertTrue(result.blind)
                    self.assertEqual(result.ground_truth["variant_seed"], seed)
                    self.assertIn(fault.replace("_", "-"), result.skills_used)

    def test_baseline_mode_has_no_skills_and_does_worse(self) -> None:
        result = self.run_blind("stale_lockfile", SEEDS[1], mode="baseline")
        self.assertFalse(result.resolved)
        self.assertEqual(result.skills_used, [])
        self.assertFalse(result.collateral["outside_fix"])  # it changed nothing it did not know


class BlindLeakTests(unittest.TestCase):
    """What the model is sent during a blind run names nothing of the ground truth."""

    def test_nothing_sent_to_the_model_names_the_fault_before_the_agent_chose(self) -> None:
        recorded: list[dict] = []
        original = brain_server.respond

        def recording(request: dict) -> dict:
            recorded.append(json.loads(json.dumps(request)))
            return original(request)

        brain_server.respond = recording
        self.addCleanup(setattr, brain_server, "respond", original)
        with brain_server.PolicyServer() as endpoint, tempfile.TemporaryDirectory() as tmp:
            catalog = Path(tmp) / "c.json"
            catalog.write_text(json.dumps({"schema_version": 1, "scenarios": [
                {"scenario_id": "stale_lockfile", "local_fault": "stale_lockfile",
                 "error_report": "(blind)"}]}))
            config = RunConfig(scenario="stale_lockfile", training_data=catalog, blind=True,
                               variant_seed=21, model="openai/runbook",
                               llm_base_url=endpoint.base_url, disable_trace_log=True,
                               verify_interval_s=0.3, soak_s=0.5)
            result = run_incident(config, console=NullConsole())
        self.assertTrue(recorded, "the model was never called")
        truth = result.ground_truth
        forbidden = _forms("stale_lockfile") + ["Runbook skill:", "scenario"]
        final = [r for r in recorded if r.get("tools")][-1]["messages"]
        chosen_at = next((i for i, m in enumerate(final) if m.get("role") == "assistant" and any(
            (c.get("function") or {}).get("name") == "invoke_skill" for c in m.get("tool_calls") or [])),
            len(final))
        before = final[:chosen_at]
        for message in before:
            text = json.dumps(message.get("content"))
            if message.get("role") == "system":  # the catalog lists every skill alike
                text = re.sub(r"<available_skills>.*?</available_skills>", "", text, flags=re.S)
            for word in forbidden:
                self.assertNotIn(word.lower(), text.lower(), f"{word!r} in {message.get('role')}")
        user = " ".join(json.dumps(m.get("content")) for m in before if m.get("role") == "user")
        self.assertNotIn(truth["entity"], user)
        self.assertNotIn("stale_lockfile", json.dumps(result.instance))


class StandaloneBrainTests(unittest.TestCase):
    """`python -m openhands_driver.brain --port N` + `run_demo.py --model openai/runbook
    --llm-base-url ...` resolves and diagnoses exactly as the built-in default."""

    def test_same_decisions_as_the_built_in_default(self) -> None:
        proc = subprocess.Popen([sys.executable, "-m", "openhands_driver.brain", "--port", "0"],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        line = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line).group(1)
        with urllib.request.urlopen(url + "/models", timeout=5) as answer:
            self.assertEqual(answer.status, 200)

        def run(extra: list[str]) -> dict:
            out = subprocess.run([sys.executable, "run_demo.py", "--scenario", "stale_lockfile",
                                  "--blind", "--variant-seed", "31", "--json", "--soak-s", "0.5",
                                  "--verify-interval-s", "0.3", "--disable-trace-log", *extra],
                                 cwd=REPO, capture_output=True, text=True, timeout=240,
                                 env={**__import__("os").environ, "LLM_API_KEY": "dummy"})
            self.assertIn(out.returncode, (0, 1), out.stderr[-2000:])
            return json.loads(out.stdout)

        default = run([])
        standalone = run(["--model", "openai/runbook", "--llm-base-url", url])
        def decisions(result: dict) -> list[str]:  # (the final report quotes timestamped log lines)
            return [a["command"] for a in result["actions"] if a["tool"] != "finish"]

        self.assertEqual(decisions(default), decisions(standalone))
        for key in ("correct", "class_correct", "entity_correct"):
            self.assertEqual(default["diagnosis"][key], standalone["diagnosis"][key])
        for key in ("fault_class", "entity"):  # (the evidence quotes log lines with timestamps)
            self.assertEqual(default["diagnosis"]["reported"][key], standalone["diagnosis"]["reported"][key])
        self.assertEqual(default["resolved"], standalone["resolved"])
        self.assertTrue(default["resolved"], default.get("agent_message"))


if __name__ == "__main__":
    unittest.main()


class DockerBlindBenchmark(unittest.TestCase):
    """Every fault class blind on the Docker backend, through the blind benchmark (fan-out engine):
    the same variants, provisioned in containers, proven from outside. Needs a Docker engine."""

    def test_every_class_resolved_blind_in_containers(self) -> None:
        from tests.test_target_docker import require_engine

        require_engine()
        from openhands_driver.fanout.blind import run_benchmark

        with tempfile.TemporaryDirectory() as tmp:
            run = RunConfig(backend="docker", trace_log=Path(tmp) / "trace.jsonl",
                            verify_interval_s=0.3, soak_s=1.0)
            report = run_benchmark(run, classes=ALL_CLASSES, seeds=[SEEDS[0] + 1], concurrency=3,
                                   progress=False, out_dir=Path(tmp) / "bench")
        summary = report["summary"]
        failed = {r["scenario_id"]: (r.get("error") or r.get("diagnosis"), r.get("mitigation"),
                                     r.get("collateral"))
                  for r in report["rows"] if not r.get("resolved")}
        self.assertEqual(failed, {})
        self.assertEqual(summary["runs"], len(ALL_CLASSES))
        self.assertEqual(summary["mitigation_pass_at_1"], 1.0)
        self.assertEqual(summary["diagnosis_pass_at_1"], 1.0)
        self.assertEqual(summary["collateral_incidents"], 0)
        self.assertIn("| **all** |", report["markdown"])
