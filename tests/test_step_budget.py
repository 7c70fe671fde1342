"""openhands_driver.step_budget (--step-timeout-s) and --retries on real runs with a scripted model.

A model that runs `sleep 1000` must see it cut by the step timeout (process tree killed, the agent
told, the action recorded timed_out) and the run must still resolve; a transient model error must
be retried and recorded.
"""

from __future__ import annotations

import json
import tempfile
import time
import unittest
from pathlib import Path

import psutil

from openhands_driver.config import RunConfig
from openhands_driver.runner import run_incident
from openhands_driver.trace import read_rows
from tests.support.runs import NullConsole
from tests.support.scripted_llm import ScriptedModel, error, tool

REMEDIATE = "python3 .agents/skills/stale-lockfile/remediate.py"
SLEEPER = "sleep 1000"
FIX = [tool("terminal", command=REMEDIATE, security_risk="LOW", summary="remove stale lock"),
       tool("terminal", command="targetctl status", security_risk="LOW", summary="verify"),
       tool("finish", message="Removed the stale lock; health is ok.")]


def sleepers() -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if (proc.info.get("cmdline") or [])[:2] == ["sleep", "1000"]:
            found.append(proc.pid)
    return found


class StepTimeoutTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.trace = Path(tmp.name) / "trace.jsonl"

    def run_model(self, model: ScriptedModel, **kw):
        config = RunConfig(scenario="stale_lockfile", model="openai/scripted-sre", llm_base_url=model.base_url,
                           trace_log=self.trace, verify_interval_s=0.2, max_iterations=12, **kw)
        return run_incident(config, console=NullConsole())

    def test_a_command_that_sleeps_forever_is_cut_and_the_run_resolves(self) -> None:
        before = set(sleepers())
        script = [tool("terminal", command=SLEEPER, security_risk="LOW", summary="wait"), *FIX]
        started = time.monotonic()
        with ScriptedModel(script) as model:
            result = self.run_model(model, step_timeout_s=10)  # remediate.py takes seconds on a loaded machine
        self.assertLess(time.monotonic() - started, 120)
        self.assertEqual(result.status, "fixed", result.error)
        self.assertTrue(result.resolved)
        cut = result.actions[0]
        self.assertEqual((cut.command, cut.timed_out, cut.exit_code), (SLEEPER, True, 124))
        self.assertLess(cut.duration_s, 25)
        self.assertIn("ran past the step timeout (--step-timeout-s 10 s) and was stopped: killed",
                      cut.output_excerpt)
        self.assertFalse(any(a.timed_out for a in result.actions[1:]))
        told = json.dumps(model.requests[1]["messages"])  # the agent saw why its command stopped
        self.assertIn("[step timeout]", told)
        self.assertEqual(set(sleepers()) - before, set(), "the sleeping process survived")
        row = read_rows(self.trace)[-1]
        self.assertTrue(row["actions"][0]["timed_out"])
        self.assertEqual(row["schema_version"], 2)

    def test_transient_model_error_is_retried_and_recorded(self) -> None:
        with ScriptedModel([error(503, "overloaded"), *FIX]) as model:
            result = self.run_model(model, retries=2, retry_backoff_s=0.1)
        self.assertEqual(result.status, "fixed", result.error)
        self.assertEqual(len(result.retries), 1, result.retries)
        self.assertEqual(result.retries[0]["what"], "model")
        self.assertIn("ServiceUnavailable", result.retries[0]["error"])
        self.assertEqual(read_rows(self.trace)[-1]["retries"], result.retries)

    def test_without_retries_the_same_error_fails_the_run(self) -> None:
        with ScriptedModel([error(503, "overloaded"), *FIX]) as model:
            result = self.run_model(model)
        self.assertNotEqual(result.status, "fixed")
        self.assertEqual(result.retries, [])


class FlagTest(unittest.TestCase):
    def test_bad_values_are_user_errors(self) -> None:
        from openhands_driver.cli import build_parser, config_from_args
        from openhands_driver.errors import UserError

        for argv, text in ((["--step-timeout-s", "0"], "must be > 0"), (["--retries", "-1"], ">= 0"),
                           (["--step-timeout-s", "5", "--remote-host", "http://127.0.0.1:9"], "agent server")):
            with self.subTest(argv=argv), self.assertRaisesRegex(UserError, text):
                config_from_args(build_parser().parse_args(argv))
        config = config_from_args(build_parser().parse_args(["--step-timeout-s", "7", "--retries", "2"]))
        self.assertEqual((config.step_timeout_s, config.retries, config.retry_backoff_s), (7.0, 2, 2.0))


if __name__ == "__main__":
    unittest.main()
