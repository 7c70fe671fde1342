"""The gate's terminal UI through textual's own harness (App.run_test / Pilot): profiles, a real run
against a scripted model with live stage status, history and logs, auto-fix triggered."""

from __future__ import annotations

import asyncio
import tempfile
import unittest
from pathlib import Path

from textual.widgets import DataTable, Input, RichLog, TabbedContent

from openhands_driver.llm_gate import profiles as prof
from openhands_driver.llm_gate.autofix import AutofixOutcome
from openhands_driver.llm_gate.tui import GateApp
from tests.support.scripted_llm import ScriptedModel, malformed, text

KEY = "sk-tui-planted-0c1d2e"


class GateTuiTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        root = Path(self._tmp.name)
        self.paths = prof.ProfilePaths(root / "profiles", root / "secrets")
        self.runs = root / "runs"
        self.root = root

    def tearDown(self):
        self._tmp.cleanup()

    def test_profiles_run_history_and_autofix(self):
        asked = []

        def fake_autofix(request):
            asked.append(request)
            return AutofixOutcome("fixed", branch="autofix/openai-scripted", commit="abc123", reason="ok")

        async def scenario(base_url: str):
            app = GateApp(self.paths, self.runs, autofix=fake_autofix, timeout_s=20)
            async with app.run_test(size=(160, 50)) as pilot:
                for field, value in (("#p-name", "scripted"), ("#p-model", "openai/scripted"),
                                     ("#p-base-url", base_url), ("#p-key", KEY)):
                    app.query_one(field, Input).value = value
                await pilot.click("#p-save")
                await pilot.pause()
                self.assertEqual(app.query_one("#p-key", Input).value, "")  # the key left the screen
                table = app.query_one("#profile-table", DataTable)
                self.assertEqual(table.row_count, 1)
                self.assertEqual(table.get_row_at(0)[:2], ["scripted", "openai/scripted"])
                # a run with live stage status
                await pilot.click("#--content-tab-tab-run")
                await pilot.pause()
                self.assertEqual(app.query_one(TabbedContent).active, "tab-run")
                app.query_one("#r-profile", Input).value = "scripted"
                await pilot.click("#r-run")
                await pilot.pause()
                await app.workers.wait_for_complete()
                await pilot.pause()
                stages = app.query_one("#stage-table", DataTable)
                statuses = [stages.get_row_at(i)[1] for i in range(stages.row_count)]
                self.assertEqual(statuses, ["pass", "pass", "fail"])
                run_id = app.last_report.run_id
                # history: the run is listed; its capsule and log are shown
                await pilot.click("#--content-tab-tab-history")
                await pilot.pause()
                history = app.query_one("#history-table", DataTable)
                self.assertEqual(history.get_row_at(0)[:2], [run_id, "FAIL"])
                await pilot.click("#history-table", offset=(2, 1))  # the first row
                await pilot.pause()
                self.assertEqual(app.selected_run, run_id)
                shown = "\n".join(str(line.text) for line in app.query_one("#h-log", RichLog).lines)
                self.assertIn("Error capsule", shown)
                app.query_one("#h-sdk-repo", Input).value = str(self.root)
                await pilot.click("#h-autofix")
                await app.workers.wait_for_complete()
                await pilot.pause()
                self.assertEqual(len(asked), 1)
                self.assertEqual(asked[0].run_dir.name, run_id)

        with ScriptedModel([text("READY"), malformed("terminal")]) as model:
            import os
            from unittest import mock

            with mock.patch.dict(os.environ, {"LLM_MODEL": "openai/fixer", "LLM_BASE_URL": model.base_url}):
                asyncio.run(scenario(model.base_url))
        self.assertEqual(oct((self.paths.secrets / "scripted.json").stat().st_mode & 0o777), "0o600")
        for path in self.root.rglob("*"):
            if path.is_file() and path.parent != self.paths.secrets:
                self.assertNotIn(KEY, path.read_text(errors="replace"), path)


if __name__ == "__main__":
    unittest.main()
