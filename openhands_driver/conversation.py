"""The real OpenHands conversation: agent, tools, skills, one incident's run to its end.

This is the only module (with ``llm.py``) that imports the SDK, and its helpers (``event_recorder.py``:
events -> action records and the live view; ``confirmation.py``: the gates around the run;
``live_conversations.py``: the process-wide stop) import it only inside functions; keep it out of the
import path of dry runs, ``--help`` and reports. Call :func:`prepare_sdk_env` before the first SDK import.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from openhands_driver.confirmation import install_gates, resume, run_with_gates
from openhands_driver.event_recorder import EXCERPT_CHARS, Recorder, gate_label, salient_lines  # noqa: F401
from openhands_driver.live_conversations import (_LIVE, _LIVE_LOCK, abort_remote,  # noqa: F401
                                                 abort_remote_conversations, pause_live_conversations)
from openhands_driver.records import ActionRecord


def prepare_sdk_env(verbose: bool = False) -> None:
    """Environment the SDK reads at import time: offline price map, no banner, quiet logs."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
    os.environ.setdefault("LOG_LEVEL", "DEBUG" if verbose else "ERROR")
    if not verbose:  # an unpriced model is reported as cost 0, not as a warning per call
        warnings.filterwarnings("ignore", message="Cost calculation failed")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="litellm")


@dataclass
class ConversationOutcome:
    status: str  # SDK execution status: finished, error, stuck, ...
    actions: list[ActionRecord] = field(default_factory=list)
    final_message: str = ""
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    proposed: list[dict] = field(default_factory=list)  # status "paused": the changes awaiting the operator
    tools: list[str] = field(default_factory=list)  # the tools the agent was built with


@dataclass
class ConversationSpec:
    workspace: Path
    incident_message: str
    terminal_env: dict[str, str]
    max_iterations: int = 40
    run_timeout_s: float | None = None
    step_timeout_s: float | None = None       # per terminal command (step_budget.py)
    gatekeeper: object | None = None          # gates.Gatekeeper: risk gates before execution
    secrets: dict[str, str] = field(default_factory=dict)  # masked in observations
    condense_context: bool = False
    remote_host: str | None = None  # run on this OpenHands agent server (see remote.py)
    remote_working_dir: str | None = None  # the incident's working directory there (default: a fresh one)
    sandbox: object | None = None  # sandbox.IncidentSandbox: terminal shell, file editor roots
    # Operator handoff (handoff.py): the SDK's own persistence, pause before the first change, resume
    persistence_dir: Path | None = None
    conversation_id: str | None = None
    pause_after_diagnosis: bool = False
    resuming: bool = False                 # a restored conversation: no incident message, approve pending
    operator_note: str | None = None       # shown to the agent right after the approved actions ran
    toolset: str = "shell"  # shell: terminal + file editor; api: the HTTP tools of api_tools.py only
    api_config_id: str | None = None  # api_tools.remember(...) of this incident (toolset api)


INPUTRC = Path(__file__).with_name("terminal.inputrc")


def _tools(terminal_env: dict[str, str], sandbox=None, step_timeout_s: float | None = None):
    from openhands.sdk import Tool
    from openhands.tools.file_editor import FileEditorTool
    from openhands.tools.terminal import TerminalTool

    # Closing the SDK's PTY terminal races its reader thread, which then logs a harmless
    # "Bad file descriptor" at ERROR level; keep that one logger quiet unless asked for.
    if os.environ.get("LOG_LEVEL", "ERROR") != "DEBUG":
        logging.getLogger("openhands.tools.terminal.terminal.subprocess_terminal").setLevel(logging.CRITICAL)

    # The subprocess terminal: tmux lost the first command's output in a fresh pane here.
    params = {"env": {"INPUTRC": str(INPUTRC), **terminal_env}, "no_change_timeout_seconds": 30,
              "terminal_type": os.environ.get("SRE_TERMINAL_TYPE", "subprocess")}
    editor = Tool(name=FileEditorTool.name)
    if sandbox is not None and sandbox.shell_path:  # the shell runs inside bubblewrap
        params["shell_path"] = sandbox.shell_path
    if sandbox is not None and sandbox.editor_roots:  # the editor refuses paths outside them
        from openhands_driver.sandbox.file_guard import register

        editor = Tool(name=register(), params={"allowed_roots": list(sandbox.editor_roots)})
    if step_timeout_s:  # the same terminal, every command bounded (the model still sees "terminal")
        from openhands_driver.step_budget import register as register_bounded

        return [Tool(name=register_bounded(), params={**params, "step_timeout_s": step_timeout_s}), editor]
    return [Tool(name=TerminalTool.name, params=params), editor]


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

    remote = None
    if spec.remote_host:  # the agent loop and its terminal run on an agent server (remote.py)
        from openhands_driver.remote import open_session

        remote = open_session(spec.remote_host, spec.workspace, spec.terminal_env,
                              working_dir=spec.remote_working_dir)
    skills = remote.skills if remote else load_project_skills(spec.workspace)
    if spec.toolset == "api":  # no terminal, no file editor: HTTP tools only (api_tools.py)
        if remote:
            remote.close()
            raise ValueError("toolset api runs in-process only (no --remote-host)")
        from openhands_driver.api_tools import tool_specs

        tools = tool_specs(spec.api_config_id or "")
    else:
        tools = _tools(remote.terminal_env if remote else spec.terminal_env, None if remote else spec.sandbox,
                       None if remote else spec.step_timeout_s)
    agent = Agent(llm=llm, tools=tools,
                  agent_context=AgentContext(skills=skills),
                  **({"condenser": _condenser(llm)} if spec.condense_context else {}))
    recorder = Recorder(console, spec.gatekeeper)
    persisted = {}
    if spec.persistence_dir is not None:  # the SDK's own persistence: a resume restores these events
        import uuid

        persisted = {"persistence_dir": str(spec.persistence_dir),
                     "conversation_id": uuid.UUID(spec.conversation_id)}
    try:
        conversation = Conversation(agent=agent, workspace=remote.workspace if remote else str(spec.workspace),
                                    callbacks=[recorder],
                                    max_iteration_per_run=spec.max_iterations, stuck_detection=True,
                                    visualizer=None, secrets=spec.secrets or None, **persisted)
    except BaseException:
        if remote:
            remote.close()
        raise
    closed = threading.Event()

    def close() -> None:
        if not closed.is_set():
            closed.set()
            try:
                conversation.close()
            finally:
                atexit.unregister(conversation.close)  # the SDK's hook would keep it alive until exit
                if remote:
                    remote.close()

    try:
        if spec.gatekeeper is not None:
            install_gates(conversation, spec.gatekeeper, remote=remote is not None,
                           pause=spec.pause_after_diagnosis)
        if on_conversation:
            on_conversation(conversation)
    except BaseException:
        close()  # a set-up failure releases the terminal (and the remote workspace) too
        raise
    # The first completion imports the OpenAI client's resources (about 1 s); the terminal's
    # start-up sleeps about 1 s. Overlap the two.
    threading.Thread(target=_warm_llm_client, name="warm-llm-client", daemon=True).start()
    timed_out = threading.Event()
    interrupted = threading.Event()  # set by pause_live_conversations(): the caller is stopping
    run_over = threading.Event()
    timer = None
    if spec.run_timeout_s:
        def expire() -> None:
            timed_out.set()
            # A pause that lands before the SDK switches the run to RUNNING is overwritten:
            # keep pausing until the run loop has returned.
            while not run_over.is_set():
                try:
                    conversation.pause()
                except Exception:  # noqa: BLE001  an agent server that is gone cannot pause
                    if not abort_remote(conversation):
                        raise
                run_over.wait(0.25)
        timer = threading.Timer(spec.run_timeout_s, expire)
        timer.daemon = True
        timer.start()
    error = None
    with _LIVE_LOCK:
        _LIVE[id(conversation)] = (conversation, timed_out, interrupted)
    proposed: list[dict] = []
    try:
        if spec.resuming:
            resume(conversation, spec, recorder)
        else:
            conversation.send_message(spec.incident_message)
        proposed = run_with_gates(conversation, spec, timed_out) or []
        if proposed and spec.gatekeeper is not None:
            # the persisted state must not name the project's analyzer (a class the SDK cannot
            # deserialize); the resumed run installs its own gates again
            conversation.set_security_analyzer(None)
    except ConversationRunError as exc:
        error = f"conversation failed: {exc}"
    except BaseException:
        close()
        raise
    finally:
        run_over.set()
        with _LIVE_LOCK:
            _LIVE.pop(id(conversation), None)
        if timer is not None:
            timer.cancel()
    status = getattr(conversation.state.execution_status, "value",
                     str(conversation.state.execution_status))
    status = ("timeout" if timed_out.is_set() else "paused" if proposed
              else "interrupted" if interrupted.is_set() else str(status).lower())
    if status == "error" and error is None:
        error = _last_error(conversation)
    outcome = ConversationOutcome(status=status, actions=recorder.actions,
                                  final_message=recorder.final_message, error=error,
                                  metrics=_metrics(conversation), proposed=proposed,
                                  tools=_tool_names(conversation, tools))
    return outcome, close


def _condenser(llm):
    from openhands.sdk.context.condenser import LLMSummarizingCondenser

    return LLMSummarizingCondenser(llm=llm.model_copy(update={"usage_id": "condenser"}),
                                   max_size=40, keep_first=2)


def _tool_names(conversation, specs) -> list[str]:
    """The tools the agent really had (its initialised tool map), else the specs it was given."""
    try:
        return sorted(conversation.agent.tools_map)
    except Exception:  # a remote agent has no local tool map
        return sorted(getattr(spec, "name", str(spec)) for spec in specs)


def _last_error(conversation) -> str | None:
    from openhands.sdk.event.conversation_error import ConversationErrorEvent

    for event in reversed(list(conversation.state.events)):
        if isinstance(event, ConversationErrorEvent):
            return f"{getattr(event, 'code', 'error')}: {getattr(event, 'detail', event)}"
    return None


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
