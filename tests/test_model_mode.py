"""Real-model mode on the real litellm/SDK path, against scripted OpenAI-compatible servers that the
tests start on 127.0.0.1 (no hosted key, no patching of project code): a normal fix, a dangerous
command mislabelled LOW that must never run, confirmation approve/reject, token accounting, a planted
key that must appear nowhere, and model errors ending in a clean recorded failure or fallback.
"""

from __future__ import annotations

import json
import os
import tempfile
import unittest
from pathlib import Path

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.model import resolve_model
from openhands_driver.runner import run_incident
from openhands_driver.trace import read_rows
from tests.support.scripted_llm import ScriptedModel, error, malformed, slow, text, tool
from tests.support.runs import NullConsole as _Quiet

PLANTED = "sk-planted-4f1c9e7a2b-DO-NOT-LEAK"
REMEDIATE = "python3 .agents/skills/stale-lockfile/remediate.py"


def fix_script(label: str = "LOW") -> list[dict]:
    return [tool("terminal", command=REMEDIATE, security_risk=label, summary="remove stale lock"),
            tool("terminal", command="targetctl status", security_risk="LOW", summary="verify"),
            tool("finish", message="Removed the stale lock; health is ok.")]


class ModelModeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.trace = Path(self.tmp.name) / "trace.jsonl"

    def tearDown(self):
        self.tmp.cleanup()

    def run_model(self, model: ScriptedModel, scenario: str = "stale_lockfile", **kw):
        config = RunConfig(scenario=scenario, model="openai/scripted-sre", llm_base_url=model.base_url,
                           trace_log=self.trace, verify_interval_s=0.2, max_iterations=12, **kw)
        return run_incident(config, console=_Quiet())

    def test_normal_fix_with_token_accounting(self):
        with ScriptedModel(fix_script(), prompt_tokens=123, completion_tokens=45) as model:
            result = self.run_model(model)
        self.assertEqual(result.status, "fixed", result.to_dict())
        self.assertEqual(result.brain, "llm")
        self.assertEqual(result.model, "openai/scripted-sre")
        self.assertTrue(result.service_up)
        self.assertEqual(result.tokens, model.usage_total)
        self.assertEqual(result.llm_calls, len(model.requests))
        self.assertGreater(result.tokens["input"], 0)
        row = read_rows(self.trace)[-1]
        self.assertEqual(row["tokens"], model.usage_total)
        # the SDK sent our tools to the "model"
        names = {t["function"]["name"] for t in model.requests[0]["tools"]}
        self.assertIn("terminal", names)

    def test_dangerous_command_mislabelled_low_never_runs(self):
        canary = Path(self.tmp.name) / "canary-written-outside-target"
        script = [tool("terminal", command=f"touch {canary}", security_risk="LOW", summary="harmless?"),
                  *fix_script()]
        with ScriptedModel(script) as model:
            result = self.run_model(model)
        self.assertFalse(canary.exists(), "a HIGH-risk command mislabelled LOW was executed")
        blocked = result.actions[0]
        self.assertEqual((blocked.risk, blocked.policy_risk, blocked.model_risk, blocked.gate),
                         ("HIGH", "HIGH", "LOW", "rejected"))
        self.assertEqual(len(result.security["violations"]), 1)
        self.assertEqual(result.security["violations"][0]["model_risk"], "LOW")
        # the agent was told why and could continue: the run still fixed the service
        self.assertEqual(result.status, "fixed")
        rejection = [m for m in model.requests[1]["messages"] if m.get("role") == "tool"][-1]
        self.assertIn("Blocked before execution", json.dumps(rejection))

    def test_confirmation_approve_and_reject(self):
        with ScriptedModel(fix_script(label="MEDIUM")) as model:
            approved = self.run_model(model, require_confirmation_for_risk="MEDIUM", auto_confirm=True)
        self.assertEqual(approved.status, "fixed")
        self.assertEqual(approved.actions[0].gate, "approved")
        with ScriptedModel(fix_script(label="MEDIUM")) as model:
            rejected = self.run_model(model, require_confirmation_for_risk="MEDIUM")
        self.assertEqual(rejected.actions[0].gate, "rejected")
        self.assertIn("needs confirmation", rejected.actions[0].gate_reason)
        self.assertFalse(rejected.service_up, "the remediation was rejected, so nothing was fixed")
        self.assertEqual(rejected.status, "not_fixed")

    def test_planted_key_appears_nowhere(self):
        os.environ["LLM_API_KEY"] = PLANTED
        try:
            script = [tool("terminal", command="echo $LLM_API_KEY", security_risk="LOW"),
                      tool("terminal", command="printenv LLM_API_KEY OPENAI_API_KEY; echo end-of-env",
                           security_risk="LOW"),
                      *fix_script()]
            with ScriptedModel(script) as model:
                # the second command is allowed (max HIGH) to prove the terminal has no key at all
                result = self.run_model(model, max_security_risk="HIGH")
            self.assertEqual(result.status, "fixed")
            self.assertIn("end-of-env", result.actions[1].output_excerpt)
            dumped = json.dumps(result.to_dict(with_excerpts=True)) + self.trace.read_text()
            self.assertNotIn(PLANTED, dumped)
            # the key went to the model endpoint as the bearer token only
            self.assertIn(PLANTED, model.headers[0].get("Authorization", ""))
            for request in model.requests:
                self.assertNotIn(PLANTED, json.dumps(request))
        finally:
            os.environ.pop("LLM_API_KEY", None)

    def test_http_500_is_a_clean_recorded_failure(self):
        with ScriptedModel([error(500)]) as model:
            result = self.run_model(model)
        self.assertIn(result.status, ("not_fixed", "error"))
        self.assertFalse(result.service_up)
        self.assertTrue(result.error)
        self.assertFalse(result.fallback_used)
        self.assertEqual(read_rows(self.trace)[-1]["run_id"], result.run_id)

    def test_http_429_falls_back_to_the_runbook_brain_when_allowed(self):
        with ScriptedModel([error(429, "rate limited")]) as model:
            result = self.run_model(model, allow_fallback=True)
        self.assertTrue(result.fallback_used)
        self.assertRegex(result.fallback_reason or "", r"429|RateLimit")
        self.assertEqual(result.brain, "runbook")
        self.assertEqual(result.status, "fixed")

    def test_malformed_tool_call_then_recovery(self):
        with ScriptedModel([malformed(), *fix_script()]) as model:
            result = self.run_model(model)
        self.assertEqual(result.status, "fixed", result.to_dict())

    def test_model_timeout_is_a_recorded_failure(self):
        with ScriptedModel([slow(6, text("too late"))]) as model:
            result = self.run_model(model, run_timeout_s=3)
        self.assertIn(result.status, ("timeout", "not_fixed", "error"))
        self.assertFalse(result.service_up)


class PreflightTest(unittest.TestCase):
    def test_model_without_key_or_base_url_fails_naming_variables(self):
        with self.assertRaises(UserError) as ctx:
            resolve_model("openai/gpt-4o-mini", None, environ={})
        self.assertIn("LLM_API_KEY", str(ctx.exception))
        self.assertIn("OPENAI_API_KEY", str(ctx.exception))

    def test_real_environment_wins_over_env_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            env_file = Path(tmp) / ".env"
            env_file.write_text("LLM_MODEL=openai/from-file\nLLM_API_KEY=file-key-1234\n")
            config = resolve_model(None, None, env_file=env_file, environ={"LLM_API_KEY": "real-key-5678"})
        self.assertEqual(config.model, "openai/from-file")
        self.assertEqual(config.api_key, "real-key-5678")
        self.assertEqual(config.key_source, "LLM_API_KEY")
        self.assertNotIn("real-key", repr(config))

    def test_no_model_means_runbook_brain(self):
        self.assertEqual(resolve_model(None, None, environ={}).brain, "runbook")


if __name__ == "__main__":
    unittest.main()
