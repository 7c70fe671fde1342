"""scripts/check_llm.py end to end against scripted OpenAI-compatible servers on 127.0.0.1: stages,
profiles, run folders (artifacts, capsule, repro), history; a planted key never reaches a file,
a log, an artifact or the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.support.scripted_llm import ScriptedModel, malformed, text, tool

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-check-planted-7e3d1a"
PASSING = [text("READY"), tool("terminal", command="echo TOOL_OK"), tool("finish", message="TOOL_OK printed")]


class CheckLlmTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.out = self.root / "llm-checks"
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root / "home"),
                    "OH_LLM_PROFILES_DIR": str(self.root / "profiles"),
                    "OH_LLM_SECRETS_DIR": str(self.root / "secrets")}

    def tearDown(self):
        self._tmp.cleanup()

    def cli(self, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "scripts/check_llm.py", *args], cwd=REPO, capture_output=True,
                              text=True, env={**self.env, **(env or {})}, input=stdin, timeout=240)

    def check(self, *args: str, env: dict | None = None) -> tuple[int, dict, str]:
        proc = self.cli(*args, "--json", "--timeout-s", "20", "--output-dir", str(self.out), env=env)
        return proc.returncode, json.loads(proc.stdout or "{}"), proc.stdout + proc.stderr

    def assert_no_key_on_disk(self):
        for path in self.root.rglob("*"):
            if path.is_file() and path.parent != self.root / "secrets":
                self.assertNotIn(KEY, path.read_text(errors="replace"), path)

    def test_all_stages_pass_and_the_run_folder_has_every_artifact(self):
        with ScriptedModel(PASSING) as model:
            code, report, output = self.check("--model", "openai/scripted", "--llm-base-url", model.base_url,
                                              env={"LLM_API_KEY": KEY})
        self.assertEqual(code, 0, output)
        self.assertEqual([s["status"] for s in report["stages"]], ["pass", "pass", "pass"])
        run_dir = Path(report["saved_to"])
        self.assertEqual(run_dir.parent, self.out)
        for name in ("profile.json", "metadata.json", "result.json", "log.txt", "repro.py"):
            self.assertTrue((run_dir / name).exists(), name)
        self.assertFalse((run_dir / "capsule.json").exists())  # nothing failed
        meta = json.loads((run_dir / "metadata.json").read_text())
        self.assertEqual(meta["versions"]["openhands-sdk"], "1.58.0")
        self.assertIn("host", meta)
        self.assertEqual(report["usage"]["input_tokens"] > 0, True)
        self.assertIn("cost_usd", report["usage"])
        self.assertIn('REPRO_STAGES = ["A", "B", "C"]', (run_dir / "repro.py").read_text())
        self.assertNotIn(KEY, output)
        self.assert_no_key_on_disk()

    def test_bad_key_is_credentials_later_stages_skip_and_the_capsule_says_so(self):
        with ScriptedModel([], fail_status=401) as model:
            code, report, output = self.check("--model", "openai/scripted", "--llm-base-url", model.base_url,
                                              env={"LLM_API_KEY": KEY})
        self.assertEqual(code, 1, output)
        first = report["stages"][0]
        self.assertEqual((first["status"], first["category"], first["kind"]),
                         ("fail", "credentials", "credential_config"))
        self.assertTrue(any("401" in e for e in first["evidence"]), first["evidence"])
        self.assertEqual([s["status"] for s in report["stages"][1:]], ["skipped", "skipped"])
        capsule = json.loads((Path(report["saved_to"]) / "capsule.json").read_text())
        self.assertEqual((capsule["stage"], capsule["kind"]), ("A", "credential_config"))
        self.assertIn("Traceback", (Path(report["saved_to"]) / "log.txt").read_text())
        # the auto-fix lane refuses a credential problem (no agent, no worktree)
        repo = self.root / "sdk"
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        fix = self.cli("autofix", report["run_id"], "--sdk-repo", str(repo), "--model", "openai/x",
                       "--llm-base-url", "http://127.0.0.1:9/v1", "--output-dir", str(self.out))
        self.assertEqual(fix.returncode, 1, fix.stderr)
        self.assertIn("refused", fix.stdout)
        self.assertIn("credential_config", fix.stdout)
        self.assertNotIn(KEY, output + fix.stdout + fix.stderr)
        self.assert_no_key_on_disk()

    def test_profile_run_with_a_stored_key_and_the_standalone_repro(self):
        with ScriptedModel([text("READY"), malformed("terminal")], repeat_last=True) as model:
            add = self.cli("profiles", "add", "scripted", "--model", "openai/scripted", "--base-url",
                           model.base_url, "--set", "num_retries=0", "--api-key-stdin", stdin=KEY + "\n")
            self.assertEqual(add.returncode, 0, add.stderr)
            listed = self.cli("profiles", "list")
            self.assertIn("scripted", listed.stdout)
            self.assertIn("key: stored", listed.stdout)
            code, report, output = self.check("--profile", "scripted")
            self.assertEqual(code, 1, output)  # stage C gets an unparseable tool call, then more of them
            self.assertEqual(report["profile"], "scripted")
            self.assertEqual([s["status"] for s in report["stages"]][:2], ["pass", "pass"])
            failed = report["stages"][2]
            self.assertEqual((failed["stage"], failed["status"]), ("C", "fail"))
            self.assertEqual(failed["kind"], "sdk_incompatibility")
            run_dir = Path(report["saved_to"])
            self.assertEqual(json.loads((run_dir / "profile.json").read_text())["model"], "openai/scripted")
            repro = (run_dir / "repro.py").read_text()
            self.assertIn('REPRO_STAGES = ["C"]', repro)
            self.assertNotIn("openhands_driver", repro.replace("openhands_driver/", ""))
            # standalone: a plain python with the SDK, outside the repository, key from the environment
            proc = subprocess.run([sys.executable, str(run_dir / "repro.py")], cwd=self.root, capture_output=True,
                                  text=True, env={**self.env, "LLM_API_KEY": KEY}, timeout=180)
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            self.assertIn("C FAIL", proc.stderr)
            history = self.cli("history", "--output-dir", str(self.out))
            self.assertIn(report["run_id"], history.stdout)
            self.assertIn("FAIL", history.stdout)
            self.assertIn("[sdk_incompatibility]", history.stdout)
        self.assertNotIn(KEY, output + listed.stdout + add.stdout + add.stderr + history.stdout)
        self.assert_no_key_on_disk()
        self.assertEqual(oct(os.stat(self.root / "secrets" / "scripted.json").st_mode & 0o777), "0o600")
        rm = self.cli("profiles", "rm", "scripted")
        self.assertEqual(rm.returncode, 0, rm.stderr)
        self.assertFalse((self.root / "secrets" / "scripted.json").exists())

    def test_user_errors_exit_2_without_traceback(self):
        for args in (["--env-file", "/dev/null"], ["--profile", "nope"], ["history", "--limit", "x"],
                     ["profiles", "rm", "../x"], ["profiles", "add", "x", "--model", "m", "--set", "api_key=sk-1"], ["--model", "m", "--stages", "D9"],
                     ["autofix", "nope", "--sdk-repo", "/tmp", "--model", "openai/x", "--llm-base-url",
                      "http://127.0.0.1:9/v1", "--output-dir", str(self.out)]):
            with self.subTest(args=args):
                proc = self.cli(*args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
    unittest.main()
