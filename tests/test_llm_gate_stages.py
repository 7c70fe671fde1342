"""Stage D gates against scripted OpenAI-compatible servers on 127.0.0.1: pass / fail / n/a with the reason."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from openhands_driver.llm_gate.gate import run_gate, stage_list
from openhands_driver.llm_gate.profiles import GateTarget
from openhands_driver.model import ModelConfig
from tests.support.scripted_llm import ScriptedModel, text, tool

KEY = "sk-stage-d-planted-41af"
TOOL_RUN = [tool("terminal", command="echo TOOL_OK"), tool("finish", message="TOOL_OK")]


def target(base_url: str, **fields) -> GateTarget:
    profile = {"model": "openai/scripted", "base_url": base_url, "api_mode": "chat", "num_retries": 0, **fields}
    return GateTarget(ModelConfig("openai/scripted", base_url, KEY, "LLM_API_KEY", 20), profile, "scripted")


class StageDTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.out = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_streaming_persistence_pass_and_the_others_are_not_applicable(self):
        script = [text("READY"), *TOOL_RUN, *TOOL_RUN, *TOOL_RUN, text("STORED"), text("KIWI")]
        with ScriptedModel(script, repeat_last=False) as model:
            report = run_gate(target(model.base_url), stage_list(["D"]), base_dir=self.out)
            streamed = model.streamed
            stream_flags = [r.get("stream") for r in model.requests]
        by = {s.stage: s for s in report.stages}
        self.assertEqual(by["D1"].status, "pass", by["D1"])
        self.assertGreater(streamed, 0)
        self.assertIn(True, stream_flags)
        self.assertEqual(by["D2"].status, "pass", by["D2"])
        self.assertIn("KIWI", by["D2"].detail)
        self.assertEqual(by["D3"].status, "n/a")
        self.assertIn("responses API", by["D3"].detail)
        self.assertEqual(by["D4"].status, "n/a")
        self.assertIn("vision", by["D4"].detail)
        self.assertTrue(report.passed)
        for path in Path(report.run_dir).iterdir():
            self.assertNotIn(KEY, path.read_text())

    def test_vision_claimed_sends_the_image_and_checks_the_answer(self):
        script = [text("READY"), *TOOL_RUN, text("Red")]
        with ScriptedModel(script, repeat_last=False) as model:
            report = run_gate(target(model.base_url, capability_overrides={"supports_vision": True}),
                              stage_list(["D4"]), base_dir=self.out)
            sent = json.dumps(model.requests[-1])
        self.assertEqual(report.stages[-1].status, "pass", report.stages[-1])
        self.assertIn("data:image/png;base64,", sent)

    def test_vision_claimed_but_blind_answer_fails(self):
        script = [text("READY"), *TOOL_RUN, text("I cannot see images")]
        with ScriptedModel(script, repeat_last=False) as model:
            report = run_gate(target(model.base_url, capability_overrides={"supports_vision": True}),
                              stage_list(["D4"]), base_dir=self.out)
        d4 = report.stages[-1]
        self.assertEqual((d4.status, d4.kind), ("fail", "sdk_incompatibility"))
        self.assertTrue((Path(report.run_dir) / "capsule.md").exists())
        self.assertIn('REPRO_STAGES = ["D4"]', (Path(report.run_dir) / "repro.py").read_text())

    def test_responses_claimed_where_the_server_has_none_fails_as_config(self):
        script = [text("READY"), *TOOL_RUN, text("READY")]
        with ScriptedModel(script, repeat_last=False) as model:
            report = run_gate(target(model.base_url, capability_overrides={"supports_responses_api": True}),
                              stage_list(["D3"]), base_dir=self.out)
            paths = list(model.paths)
        d3 = report.stages[-1]
        self.assertEqual(d3.status, "fail", d3)
        self.assertIn("api_mode=responses", d3.error)
        self.assertEqual(d3.category, "config")  # the 404 in the exception chain
        self.assertTrue(any(p.endswith("/responses") for p in paths), paths)

    def test_responses_and_chat_both_work_where_the_provider_has_both(self):
        script = [text("READY"), *TOOL_RUN, text("READY"), text("READY")]
        with ScriptedModel(script, repeat_last=False, responses=True) as model:
            report = run_gate(target(model.base_url, capability_overrides={"supports_responses_api": True}),
                              stage_list(["D3"]), base_dir=self.out)
            paths = list(model.paths)
        d3 = report.stages[-1]
        self.assertEqual((d3.status, d3.detail), ("pass", "chat ok, responses ok"), d3)
        self.assertTrue(any(p.endswith("/responses") for p in paths), paths)


if __name__ == "__main__":
    unittest.main()
