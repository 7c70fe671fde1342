"""openhands_driver.intake.config: start-up validation lists every problem, one clear line each;
scripts/serve.py prints them and exits 2 without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.intake.config import IntakeConfig

REPO = Path(__file__).resolve().parent.parent


class ProblemsTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="intake-config-")
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)

    def config(self, **overrides) -> IntakeConfig:
        values = {"port": 0, "db": self.tmp / "intake.db", "token": "t" * 20, "trace_log": self.tmp / "t.jsonl",
                  "sandbox": "none"}
        values.update(overrides)
        return IntakeConfig(**values)

    def test_a_good_config_has_no_problems(self):
        self.assertEqual(self.config().problems(), [])

    def test_every_problem_is_reported_at_once(self):
        registry = self.tmp / "services.json"
        registry.write_text("{not json", encoding="utf-8")
        config = self.config(token="short", port=70000, concurrency=0, http_threads=0, ttl_s=0,
                             log_level="LOUD", escalation_url="ftp://pager", services_file=registry,
                             trace_log=self.tmp)
        problems = config.problems()
        expected = ["too short", "--port must be 0-65535", "--concurrency must be >= 1",
                    "--http-threads must be >= 1", "--ttl-s must be > 0", "log level 'LOUD'",
                    "--escalation-url must be an http(s) URL", str(registry), "--trace-log"]
        self.assertEqual(len(problems), len(expected), problems)
        for fragment, problem in zip(expected, problems, strict=True):
            self.assertIn(fragment, problem)
        with self.assertRaises(UserError) as caught:
            config.validate()
        self.assertEqual(str(caught.exception).splitlines(), problems)


class ServeExitTest(unittest.TestCase):
    def test_serve_exits_2_listing_every_problem(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SRE_INTAKE_TOKEN")}
        env["SRE_INTAKE_TOKEN"] = "short"
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([sys.executable, "scripts/serve.py", "--db", f"{tmp}/intake.db", "--port", "70000",
                                   "--concurrency", "0", "--http-threads", "0", "--sandbox", "none",
                                   "--trace-log", f"{tmp}/trace.jsonl"],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 2, done.stderr)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
        self.assertEqual(len(errors), 4, done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        self.assertIn("--http-threads must be >= 1, got 0", done.stderr)


if __name__ == "__main__":
    unittest.main()
