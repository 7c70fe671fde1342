"""The auto-fix lane offline: a small local git repository stands in for the SDK with a real
incompatibility planted in it (it crashes on tool-call-only replies, whose ``content`` is null), a
scripted model plays the checked model for the repro, and another scripted model drives the fixing
agent (real terminal in the bubblewrap sandbox) to the fix. The lane must reproduce the failure,
commit the patch on a branch, show the repro passing, and leave the main checkout untouched."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
import unittest
from pathlib import Path
from unittest import mock

from openhands_driver.llm_gate.autofix import AutofixRequest, autofix
from openhands_driver.llm_gate.runs import GateReport, StageResult, write_run
from openhands_driver.model import ModelConfig
from openhands_driver.sandbox import bwrap
from tests.support.scripted_llm import ScriptedModel, tool

KEY = "sk-autofix-planted-5b6c7d"
BUG = 'text = message["content"].strip()'
FIX_CMD = ("sed -i 's/message\\[\"content\"\\].strip()/(message.get(\"content\") or \"\").strip()/' "
           "minisdk/replies.py")

REPLIES = textwrap.dedent(f'''\
    """Parse a chat.completion message into (text, tool calls)."""


    def parse(message: dict) -> tuple[str, list[tuple[str, str]]]:
        {BUG}
        calls = [(c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []]
        return text, calls
    ''')
TEST_REPLIES = textwrap.dedent('''\
    import unittest

    from minisdk.replies import parse


    class ParseTest(unittest.TestCase):
        def test_text_reply(self):
            self.assertEqual(parse({"content": " hi "}), ("hi", []))


    if __name__ == "__main__":
        unittest.main()
    ''')
REPRO = textwrap.dedent('''\
    #!/usr/bin/env python3
    # Standalone reproduction (first failing stage C): the model answers with a tool call only.
    import json, os, sys, urllib.request
    from minisdk.replies import parse

    request = urllib.request.Request(BASE_URL + "/chat/completions", method="POST",
        data=json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "run echo TOOL_OK"}],
                         "tools": [{"type": "function", "function": {"name": "terminal", "parameters": {}}}]}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("LLM_API_KEY", "")})
    message = json.load(urllib.request.urlopen(request, timeout=20))["choices"][0]["message"]
    text, calls = parse(message)
    assert calls and calls[0][0] == "terminal", calls
    print("C PASS tool calling:", calls)
    ''')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def make_sdk_repo(root: Path) -> Path:
    repo = root / "minisdk-repo"
    (repo / "minisdk").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "minisdk" / "__init__.py").write_text("")
    (repo / "minisdk" / "replies.py").write_text(REPLIES)
    (repo / "tests" / "__init__.py").write_text("")
    (repo / "tests" / "test_replies.py").write_text(TEST_REPLIES)
    git(root, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "minisdk")
    return repo


def make_run(root: Path, model_url: str, kind: str = "sdk_incompatibility") -> Path:
    report = GateReport("20261129-000000-openai-vendor-x-abcd", "openai/vendor-x", model_url, "vendor", "t0")
    report.stages = [StageResult("A", "connectivity", "pass"), StageResult("B", "conversation", "pass"),
                     StageResult("C", "tool calling through the terminal", "fail",
                                 category="incompatibility" if kind == "sdk_incompatibility" else "credentials",
                                 kind=kind, error="AttributeError: 'NoneType' object has no attribute 'strip'",
                                 evidence=["a AttributeError raised inside the SDK (minisdk/replies.py:5 in parse)"],
                                 where=["minisdk/replies.py:5 in parse"])]
    run_dir = write_run(root / "runs" / report.run_id, report, {"model": "openai/vendor-x"}, ["A", "B", "C"],
                        "Traceback ...\nAttributeError: 'NoneType' object has no attribute 'strip'\n", [KEY])
    (run_dir / "repro.py").write_text(f"BASE_URL = {model_url!r}\n" + REPRO)
    return run_dir


@unittest.skipIf(bwrap.unavailable_reason(), f"the agent sandbox needs bubblewrap: {bwrap.unavailable_reason()}")
class AutofixLaneTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.repo = make_sdk_repo(self.root)
        self.head = git(self.repo, "rev-parse", "HEAD")

    def tearDown(self):
        self._tmp.cleanup()

    def assert_checkout_untouched(self):
        self.assertEqual(git(self.repo, "rev-parse", "HEAD"), self.head)
        self.assertEqual(git(self.repo, "status", "--porcelain"), "")
        self.assertEqual(git(self.repo, "rev-parse", "--abbrev-ref", "HEAD"), "main")
        self.assertIn(BUG, (self.repo / "minisdk" / "replies.py").read_text())
        self.assertEqual(len(git(self.repo, "worktree", "list").splitlines()), 1)

    def test_the_agent_fixes_the_planted_incompatibility_on_a_branch(self):
        checked = ScriptedModel([tool("terminal", command="echo TOOL_OK")])
        fixer_script = [tool("terminal", command="env; cat .llm-gate/capsule.md | head -5"),
                        tool("terminal", command=FIX_CMD),
                        tool("terminal", command="python3 -m unittest discover -s tests 2>&1 | tail -2"),
                        tool("finish", message="Tool-call-only replies carry content null; treat it as empty.")]
        fixer = ScriptedModel(fixer_script)
        with checked, fixer, mock.patch.dict(os.environ, {"LLM_API_KEY": KEY}):
            run_dir = make_run(self.root, checked.base_url)
            outcome = autofix(AutofixRequest(run_dir, self.repo, ModelConfig("openai/fixer", fixer.base_url,
                                                                             "sk-no-key-required"),
                                             max_iterations=10, open_pr=True))
            agent_saw = json.dumps(fixer.requests)
        self.assertEqual(outcome.status, "fixed", outcome.to_dict())
        self.assertEqual((outcome.repro_before, outcome.repro_after), (1, 0))
        self.assertEqual(outcome.branch, "autofix/openai-vendor-x")
        self.assertEqual(outcome.changed_files, ["minisdk/replies.py"])
        # the branch holds the fix; the main checkout is untouched
        fixed = git(self.repo, "show", f"{outcome.branch}:minisdk/replies.py")
        self.assertIn('(message.get("content") or "").strip()', fixed)
        self.assertEqual(git(self.repo, "rev-parse", f"{outcome.branch}~1"), self.head)
        self.assertNotIn(".llm-gate", git(self.repo, "show", "--stat", outcome.branch))
        self.assert_checkout_untouched()
        # no gh here: the exact commands are printed
        self.assertTrue(any("gh pr create --head autofix/openai-vendor-x" in c for c in outcome.next_commands))
        body = (run_dir / "autofix" / "pr_body.md").read_text()
        for part in ("Reproduce", "AttributeError", "content null", "minisdk/replies.py"):
            self.assertIn(part, body)
        # the key: not in the agent's view (sandboxed env), not in any report file, not in the commit
        self.assertIn("capsule", agent_saw)
        self.assertIn("PATH=", agent_saw)  # the agent's `env` output came back: the key was not in it
        self.assertNotIn(KEY, agent_saw)
        for path in (run_dir / "autofix").iterdir():
            self.assertNotIn(KEY, path.read_text(), path)
        self.assertNotIn(KEY, git(self.repo, "log", "-p", outcome.branch))

    def test_refuses_a_credential_failure_and_stops_when_not_reproduced(self):
        with ScriptedModel([tool("terminal", command="echo TOOL_OK")]) as checked:
            outcome = autofix(AutofixRequest(make_run(self.root, checked.base_url, kind="credential_config"),
                                             self.repo, ModelConfig("openai/fixer", "http://127.0.0.1:9/v1", "x")))
            self.assertEqual(outcome.status, "refused")
            self.assertIn("credential_config", outcome.reason)
            # the repro passes on a checkout that already has the fix: nothing for the agent to do
            (self.repo / "minisdk" / "replies.py").write_text(REPLIES.replace(BUG, 'text = (message.get("content") or "").strip()'))
            git(self.repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "fixed upstream")
            self.head = git(self.repo, "rev-parse", "HEAD")

            def no_agent(*args):
                raise AssertionError("the agent must not run when the repro passes")

            outcome = autofix(AutofixRequest(make_run(self.root / "2", checked.base_url), self.repo,
                                             ModelConfig("openai/fixer", "http://127.0.0.1:9/v1", "x")), agent=no_agent)
        self.assertEqual((outcome.status, outcome.repro_before), ("not_reproduced", 0))
        self.assertEqual(git(self.repo, "rev-parse", "HEAD"), self.head)
        self.assertEqual(len(git(self.repo, "worktree", "list").splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
