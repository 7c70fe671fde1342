"""scripts/check_llm.py stages against scripted OpenAI-compatible servers on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.support.scripted_llm import ScriptedModel, text, tool

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-check-planted-7e3d1a"


def run_check(base_url: str, out_dir: str) -> tuple[int, dict, str]:
    env = {"PATH": "/usr/bin:/bin", "LLM_API_KEY": KEY, "HOME": "/tmp"}
    proc = subprocess.run([sys.executable, "scripts/check_llm.py", "--model", "openai/scripted",
                           "--llm-base-url", base_url, "--json", "--timeout-s", "20",
                           "--output-dir", out_dir], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=180)
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stdout + proc.stderr


class CheckLlmTest(unittest.TestCase):
    def test_all_stages_pass_for_a_working_model(self):
        script = [text("READY"), tool("terminal", command="echo TOOL_OK"),
                  tool("finish", message="TOOL_OK printed")]
        with ScriptedModel(script) as model, tempfile.TemporaryDirectory() as out:
            code, report, output = run_check(model.base_url, out)
            saved = list(Path(out).glob("check-*.json"))
        self.assertEqual(code, 0, output)
        self.assertEqual([s["passed"] for s in report["stages"]], [True, True, True])
        self.assertEqual(len(saved), 1)
        self.assertNotIn(KEY, output)

    def test_bad_key_is_reported_as_credentials_and_later_stages_skip(self):
        with ScriptedModel([], fail_status=401) as model, tempfile.TemporaryDirectory() as out:
            code, report, output = run_check(model.base_url, out)
        self.assertEqual(code, 1, output)
        first = report["stages"][0]
        self.assertFalse(first["passed"])
        self.assertEqual(first["category"], "credentials")
        self.assertEqual([s["passed"] for s in report["stages"][1:]], [None, None])
        self.assertNotIn(KEY, output)

    def test_no_model_is_a_user_error(self):
        proc = subprocess.run([sys.executable, "scripts/check_llm.py", "--env-file", "/dev/null"],
                              cwd=REPO, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no model", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
    unittest.main()
