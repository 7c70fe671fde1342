"""The gate's terminal UI (textual): profiles, a run with live stage status, history, logs, auto-fix.

Every action is one of the library calls the CLI makes (``profiles``, ``gate.run_gate``,
``runs.history``, ``autofix.autofix``); the UI only lays them out. Long calls run in worker threads
and report back with ``call_from_thread``. ``check_llm.py tui`` starts it.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Callable

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Footer, Header, Input, Label, RichLog, TabbedContent, \
    TabPane

from openhands_driver.errors import UserError

from . import profiles as prof
from . import runs


class GateApp(App):
    TITLE = "LLM compatibility gate"
    BINDINGS = [("q", "quit", "Quit"), ("r", "refresh", "Refresh")]
    CSS = "Horizontal { height: auto; } Input { width: 1fr; } #stage-table, #history-table { height: 12; } RichLog { height: 1fr; }"

    def __init__(self, paths: prof.ProfilePaths, runs_dir: Path | None = None, *,
                 run_gate: Callable | None = None, autofix: Callable | None = None, timeout_s: int = 60):
        super().__init__()
        self.paths, self.runs_dir, self.timeout_s = paths, runs_dir, timeout_s
        self._run_gate, self._autofix = run_gate, autofix
        self.selected_run: str | None = None
        self.last_report = None

    # ---- layout
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="tab-profiles"):
            with TabPane("Profiles", id="tab-profiles"):
                yield DataTable(id="profile-table", cursor_type="row")
                with Horizontal():
                    yield Input(placeholder="name", id="p-name")
                    yield Input(placeholder="model (litellm id)", id="p-model")
                    yield Input(placeholder="base URL (optional)", id="p-base-url")
                    yield Input(placeholder="API key (stored 0600, optional)", password=True, id="p-key")
                with Horizontal():
                    yield Button("Save", id="p-save", variant="primary")
                    yield Button("Remove", id="p-remove", variant="error")
                yield Label("", id="p-status")
            with TabPane("Run", id="tab-run"):
                with Horizontal():
                    yield Input(placeholder="profile name", id="r-profile")
                    yield Checkbox("stage D", id="r-stage-d")
                    yield Button("Run", id="r-run", variant="primary")
                yield DataTable(id="stage-table")
                yield Label("", id="r-status")
            with TabPane("History", id="tab-history"):
                yield DataTable(id="history-table", cursor_type="row")
                with Horizontal():
                    yield Input(placeholder="SDK checkout for auto-fix", id="h-sdk-repo")
                    yield Button("Auto-fix", id="h-autofix", variant="warning")
                yield Label("", id="h-status")
                yield RichLog(id="h-log", wrap=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#profile-table", DataTable).add_columns("name", "model", "base URL", "key")
        self.query_one("#stage-table", DataTable).add_columns("stage", "status", "seconds", "detail")
        self.query_one("#history-table", DataTable).add_columns("run", "result", "model", "stages", "cost $")
        self.action_refresh()

    # ---- data
    def action_refresh(self) -> None:
        table = self.query_one("#profile-table", DataTable)
        table.clear()
        for p in prof.list_profiles(self.paths):
            table.add_row(p.name, p.model or "-", p.base_url or "-", p.key, key=p.name)
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for row in runs.history(self.runs_dir, 50):
            stages = " ".join(f"{s['stage']}:{s['status']}" for s in row.get("stages", []))
            table.add_row(row["run_id"], "PASS" if row.get("passed") else "FAIL", row.get("profile") or row["model"],
                          stages, str((row.get("usage") or {}).get("cost_usd")), key=row["run_id"])

    def _say(self, label: str, text: str) -> None:
        self.query_one(f"#{label}", Label).update(text)

    # ---- events
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if event.data_table.id == "profile-table":
            data = prof.read_profile(self.paths, key)
            self.query_one("#p-name", Input).value = key
            self.query_one("#p-model", Input).value = data.get("model") or ""
            self.query_one("#p-base-url", Input).value = data.get("base_url") or ""
            self.query_one("#r-profile", Input).value = key
        elif event.data_table.id == "history-table":
            self.show_run(key)

    def show_run(self, run_id: str) -> None:
        self.selected_run = run_id
        run_dir = runs.find_run(run_id, self.runs_dir)
        log = self.query_one("#h-log", RichLog)
        log.clear()
        capsule = run_dir / "capsule.md"
        log.write(capsule.read_text() if capsule.exists() else "every stage passed")
        log.write("---- log.txt (last lines)")
        for line in (run_dir / "log.txt").read_text().splitlines()[-40:]:
            log.write(line)
        self._say("h-status", f"run {run_id}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        handler = {"p-save": self.save_profile, "p-remove": self.remove_profile, "r-run": self.start_run,
                   "h-autofix": self.start_autofix}.get(event.button.id)
        if handler:
            try:
                handler()
            except UserError as exc:
                self.notify(str(exc), severity="error")

    def save_profile(self) -> None:
        name = self.query_one("#p-name", Input).value.strip()
        fields = {"model": self.query_one("#p-model", Input).value.strip()}
        base_url = self.query_one("#p-base-url", Input).value.strip()
        if base_url:
            fields.update(base_url=base_url, api_mode="chat")
        key_input = self.query_one("#p-key", Input)
        key = key_input.value.strip() or None
        exists = (self.paths.profiles / f"{prof.check_name(name)}.json").exists()
        if exists:
            prof.edit_profile(self.paths, name, fields, api_key=key)
        else:
            prof.save_profile(self.paths, name, fields, api_key=key)
        key_input.value = ""  # the key leaves the screen at once
        self._say("p-status", f"saved {name}")
        self.action_refresh()

    def remove_profile(self) -> None:
        name = self.query_one("#p-name", Input).value.strip()
        prof.remove_profile(self.paths, name)
        self._say("p-status", f"removed {name}")
        self.action_refresh()

    def start_run(self) -> None:
        name = self.query_one("#r-profile", Input).value.strip()
        target = prof.resolve_profile(self.paths, name, timeout_s=self.timeout_s)
        from .gate import stage_list

        stages = stage_list(["D"] if self.query_one("#r-stage-d", Checkbox).value else [])
        table = self.query_one("#stage-table", DataTable)
        table.clear()
        for stage in stages:
            table.add_row(stage, "running" if stage == stages[0] else "waiting", "", "", key=stage)
        self._say("r-status", f"running {name} ...")
        self.run_worker(lambda: self._run(target, stages), thread=True, exclusive=True, group="gate")

    def _run(self, target, stages) -> None:
        run_gate = self._run_gate
        if run_gate is None:
            from .gate import run_gate
        # the SDK prints to a real stream (it reads .encoding); textual's print capture is none
        sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            report = run_gate(target, stages, base_dir=self.runs_dir,
                              on_stage=lambda result: self.call_from_thread(self._stage_done, result, stages))
        self.call_from_thread(self._run_done, report)

    def _stage_done(self, result, stages) -> None:
        table = self.query_one("#stage-table", DataTable)
        row = table.get_row_index(result.stage)
        for column, value in ((1, result.status), (2, f"{result.duration_s:.2f}"),
                              (3, (result.error or result.detail or "")[:80])):
            table.update_cell_at((row, column), value, update_width=True)
        following = stages.index(result.stage) + 1
        if following < len(stages):
            table.update_cell_at((row + 1, 1), "running")

    def _run_done(self, report) -> None:
        self.last_report = report
        self._say("r-status", f"{'PASS' if report.passed else 'FAIL'}: run {report.run_id}")
        self.action_refresh()

    def start_autofix(self) -> None:
        if not self.selected_run:
            raise UserError("select a failed run in the history first")
        repo = self.query_one("#h-sdk-repo", Input).value.strip()
        if not repo:
            raise UserError("type the path of a git checkout of the SDK")
        from openhands_driver.model import resolve_model

        from .autofix import AutofixRequest

        agent_model = resolve_model()
        if not agent_model.model:
            raise UserError("auto-fix needs a model to drive the agent: set LLM_MODEL (and its key)")
        request = AutofixRequest(runs.find_run(self.selected_run, self.runs_dir), Path(repo), agent_model,
                                 open_pr=False)
        self._say("h-status", f"auto-fix of {self.selected_run} running ...")
        self.run_worker(lambda: self._fix(request), thread=True, exclusive=True, group="autofix")

    def _fix(self, request) -> None:
        autofix = self._autofix
        if autofix is None:
            from .autofix import autofix
        sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            outcome = autofix(request)
        self.call_from_thread(self._fix_done, outcome)

    def _fix_done(self, outcome) -> None:
        self._say("h-status", f"auto-fix: {outcome.status}")
        log = self.query_one("#h-log", RichLog)
        log.write(outcome.summary())
        log.write(json.dumps(outcome.to_dict(), indent=2)[:2000])
