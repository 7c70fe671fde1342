"""The real OpenHands conversation: agent, tools, skills, events -> action records.

This is the only module (with ``llm.py``) that imports the SDK; keep it out of the import path of
dry runs, ``--help`` and reports. Call :func:`prepare_sdk_env` before the first SDK import.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from openhands_driver.records import ActionRecord

EXCERPT_CHARS = 2000


def prepare_sdk_env(verbose: bool = False) -> None:
    """Environment the SDK reads at import time: offline price map, no banner, quiet logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
    os.environ.setdefault("LOG_LEVEL", "DEBUG" if verbose else "ERROR")


@dataclass
class ConversationOutcome:
    status: str  # SDK execution status: finished, error, stuck, ...
    actions: list[ActionRecord] = field(default_factory=list)
    final_message: str = ""
    error: str | None = None
    metrics: dict = field(default_factory=dict)


@dataclass
class ConversationSpec:
    workspace: Path
    incident_message: str
    terminal_env: dict[str, str]
    max_iterations: int = 40
    run_timeout_s: float | None = None


class _Recorder:
    """Turns SDK events into ActionRecords and streams a compact view to the console."""

    def __init__(self, console: TextIO):
        self.console = console
        self.actions: list[ActionRecord] = []
        self._pending: dict[str, tuple[ActionRecord, float]] = {}
        self.final_message = ""

    def __call__(self, event) -> None:
        from openhands.sdk.event import ActionEvent, AgentErrorEvent, ObservationEvent

        if isinstance(event, ActionEvent):
            action = event.action
            command = getattr(action, "command", None)
            if command is None:
                command = getattr(action, "message", None) if event.tool_name == "finish" else None
            if command is None:
                command = event.tool_call.arguments if event.tool_call else ""
            risk = getattr(event.security_risk, "value", str(event.security_risk))
            record = ActionRecord(tool=event.tool_name, command=str(command), risk=str(risk).upper(),
                                  summary=event.summary or "")
            self.actions.append(record)
            self._pending[event.tool_call_id] = (record, time.monotonic())
            if event.tool_name == "finish":
                self.final_message = str(command)
                self._say(f"[agent] finish: {command}")
            else:
                self._say(f"[agent] {event.tool_name}: {command}")
        elif isinstance(event, ObservationEvent):
            record, started = self._pending.pop(event.tool_call_id, (None, 0.0))
            if record is None:
                return
            observation = event.observation
            record.duration_s = round(time.monotonic() - started, 3)
            record.exit_code = getattr(observation, "exit_code", None)
            if getattr(observation, "is_error", False) and record.exit_code is None:
                record.exit_code = 1
            text = getattr(observation, "text", "") or ""
            record.output_excerpt = text[-EXCERPT_CHARS:]
            if record.tool != "finish":
                shown = text.strip().splitlines()
                tail = "\n".join("    " + line for line in shown[-6:])
                self._say(f"  -> exit {record.exit_code} ({record.duration_s}s)\n{tail}")
        elif isinstance(event, AgentErrorEvent):
            self._say(f"[agent] error: {event.error}")
            record, _ = self._pending.pop(event.tool_call_id, (None, 0.0))
            if record is not None:
                record.exit_code, record.output_excerpt = 1, str(event.error)[-EXCERPT_CHARS:]

    def _say(self, text: str) -> None:
        print(text, file=self.console, flush=True)


INPUTRC = Path(__file__).with_name("terminal.inputrc")


def _tools(terminal_env: dict[str, str]):
    from openhands.sdk import Tool
    from openhands.tools.file_editor import FileEditorTool
    from openhands.tools.terminal import TerminalTool

    # The subprocess terminal: tmux lost the first command's output in a fresh pane here.
    params = {"env": {**terminal_env, "INPUTRC": str(INPUTRC)}, "no_change_timeout_seconds": 30,
              "terminal_type": os.environ.get("SRE_TERMINAL_TYPE", "subprocess")}
    return [Tool(name=TerminalTool.name, params=params), Tool(name=FileEditorTool.name)]


def run_conversation(spec: ConversationSpec, llm, *, console: TextIO = sys.stderr,
                     on_conversation: Callable | None = None) -> tuple[ConversationOutcome, Callable[[], None]]:
    """Run one incident conversation to its end.

    Returns the outcome and a ``close`` callable that releases the conversation's terminal. Closing
    the SDK's terminal waits for the shell to exit (about 2 s), so callers overlap it with the
    verifier; ``close`` must be called exactly once, also on errors (it is idempotent).
    """
    from openhands.sdk import Agent, AgentContext, Conversation
    from openhands.sdk.conversation.exceptions import ConversationRunError
    from openhands.sdk.skills import load_project_skills

    skills = load_project_skills(spec.workspace)
    agent = Agent(llm=llm, tools=_tools(spec.terminal_env),
                  agent_context=AgentContext(skills=skills))
    recorder = _Recorder(console)
    conversation = Conversation(agent=agent, workspace=str(spec.workspace), callbacks=[recorder],
                                max_iteration_per_run=spec.max_iterations, stuck_detection=True,
                                visualizer=None)
    closed = threading.Event()

    def close() -> None:
        if not closed.is_set():
            closed.set()
            conversation.close()

    if on_conversation:
        on_conversation(conversation)
    # The first completion imports the OpenAI client's resources (about 1 s); the terminal's
    # start-up sleeps about 1 s. Overlap the two.
    threading.Thread(target=_warm_llm_client, name="warm-llm-client", daemon=True).start()
    error = None
    try:
        conversation.send_message(spec.incident_message)
        conversation.run()
    except ConversationRunError as exc:
        error = f"conversation failed: {exc}"
    except BaseException:
        close()
        raise
    status = getattr(conversation.state.execution_status, "value",
                     str(conversation.state.execution_status))
    outcome = ConversationOutcome(status=str(status).lower(), actions=recorder.actions,
                                  final_message=recorder.final_message, error=error,
                                  metrics=_metrics(conversation))
    return outcome, close


def _warm_llm_client() -> None:
    try:
        import openai.resources  # noqa: F401
    except Exception:  # only a warm-up; the real call imports it anyway
        pass


def _metrics(conversation) -> dict:
    try:
        combined = conversation.conversation_stats.get_combined_metrics()
    except Exception:  # metrics are best effort; the run outcome does not depend on them
        return {}
    usage = combined.accumulated_token_usage
    latencies = [lat.latency for lat in getattr(combined, "response_latencies", [])]
    return {
        "tokens": {"input": getattr(usage, "prompt_tokens", 0) or 0,
                   "output": getattr(usage, "completion_tokens", 0) or 0},
        "cost_usd": float(combined.accumulated_cost or 0.0),
        "llm_calls": len(latencies),
        "llm_latency_s": round(sum(latencies), 3),
    }
