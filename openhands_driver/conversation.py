"""The real OpenHands conversation: agent, tools, skills, events -> action records.

This is the only module (with ``llm.py``) that imports the SDK; keep it out of the import path of
dry runs, ``--help`` and reports. Call :func:`prepare_sdk_env` before the first SDK import.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import re
import threading
import time
import warnings
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


class _Recorder:
    """Turns SDK events into ActionRecords and streams a compact view to the console."""

    def __init__(self, console: TextIO, gatekeeper=None):
        self.console = console
        self._rich = None  # colour only on a terminal, and never with NO_COLOR
        if getattr(console, "isatty", lambda: False)() and not os.environ.get("NO_COLOR"):
            from rich.console import Console

            self._rich = Console(file=console, highlight=False, soft_wrap=True)
        self.gatekeeper = gatekeeper
        self.actions: list[ActionRecord] = []
        self._pending: dict[str, tuple[ActionRecord, float]] = {}
        self.final_message = ""
        self.after_pending: Callable[[], None] | None = None
        self._waiting_for: set[str] = set()
        # crash safety: the runner reads these actions on interrupt; a checkpoint after each event
        # lets a killed run's "crashed" row list them too (runrecord.py)
        from openhands_driver import runrecord

        self._checkpoint = runrecord.track_actions(self.actions)

    def __call__(self, event) -> None:
        self._record(event)
        self._checkpoint()
        if self.after_pending is not None and self._waiting_for and \
                getattr(event, "tool_call_id", None) in self._waiting_for and \
                not isinstance(event, _action_event_type()):
            self._waiting_for.discard(event.tool_call_id)
            if not self._waiting_for:
                hook, self.after_pending = self.after_pending, None
                hook()

    def expect(self, pending, hook, gate_reason: str) -> None:
        """Resume: record the restored pending actions when they run (approved by the operator) and
        call ``hook`` once all of them have their result."""
        for event in pending:
            command = getattr(event.action, "command", None) or (event.tool_call.arguments if event.tool_call else "")
            record = ActionRecord(tool=event.tool_name, command=str(command), summary=event.summary or "",
                                  risk=str(getattr(event.security_risk, "value", event.security_risk)).upper(),
                                  gate="approved", gate_reason=gate_reason)
            self.actions.append(record)
            self._pending[event.tool_call_id] = (record, time.monotonic())
        self._waiting_for = {event.tool_call_id for event in pending}
        self.after_pending = hook

    def _record(self, event) -> None:
        from openhands.sdk.event import (ActionEvent, AgentErrorEvent, ObservationEvent,
                                         UserRejectObservation)

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
            self._apply_gate(record, event.tool_call_id)
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
            record.ended_mono = time.monotonic()
            record.exit_code = getattr(observation, "exit_code", None)
            if getattr(observation, "is_error", False) and record.exit_code is None:
                record.exit_code = 1
            text = getattr(observation, "text", "") or ""
            record.output_excerpt = text[-EXCERPT_CHARS:]
            from openhands_driver.step_budget import timed_out

            record.timed_out = timed_out(observation)
            working_dir = getattr(getattr(observation, "metadata", None), "working_dir", None)
            if self.gatekeeper is not None and working_dir:  # the next action is judged from here
                self.gatekeeper.cwd = str(working_dir)
            self._apply_gate(record, event.tool_call_id)
            if record.tool != "finish":
                shown = "\n".join("    " + line for line in salient_lines(text))
                self._say(f"  -> exit {record.exit_code} ({record.duration_s}s)\n{shown}")
        elif isinstance(event, UserRejectObservation):
            record, _ = self._pending.pop(event.tool_call_id, (None, 0.0))
            if record is not None:
                record.output_excerpt = f"rejected before execution: {event.rejection_reason}"
                self._apply_gate(record, event.tool_call_id)
                self._say(f"  -> {gate_label(record)}: {event.rejection_reason}")
        elif isinstance(event, AgentErrorEvent):
            self._say(f"[agent] error: {event.error}")
            record, _ = self._pending.pop(event.tool_call_id, (None, 0.0))
            if record is not None:
                record.exit_code, record.output_excerpt = 1, str(event.error)[-EXCERPT_CHARS:]

    def _apply_gate(self, record: ActionRecord, tool_call_id: str) -> None:
        gate = self.gatekeeper.records.get(tool_call_id) if self.gatekeeper else None
        if gate is not None and record.gate != "approved":
            record.risk, record.policy_risk, record.model_risk = gate.risk, gate.policy_risk, gate.model_risk
            record.gate, record.gate_reason, record.gate_by = gate.gate, gate.gate_reason, gate.gate_by

    def _say(self, text: str) -> None:
        if self._rich is None:
            print(text, file=self.console, flush=True)
            return
        from rich.text import Text

        for line in text.splitlines():
            body = line.lstrip()
            style = ("bold cyan" if body.startswith("[agent]") else
                     "bold red" if body.startswith("-> ") and ("BLOCKED" in body or "REJECTED" in body) else
                     "yellow" if body.startswith("-> EDITED") else
                     "green" if body.startswith("-> exit 0") else
                     "red" if body.startswith("-> exit") else
                     "red" if _SALIENT.search(body) else "dim")
            self._rich.print(Text(line, style=style))


def gate_label(record: ActionRecord) -> str:
    """What happened to an action that did not run as proposed, in the live view."""
    if record.gate == "edited":
        return "EDITED by the operator (the edited command ran instead)"
    if record.gate_by == "policy":
        return "BLOCKED by policy (never ran)"
    if record.gate_by == "operator":
        return "REJECTED by the operator (never ran)"
    return "NOT RUN"


_SALIENT = re.compile(r"\b(ERROR|CRITICAL|FATAL|WARN(?:ING)?|Traceback|refused|denied|fail(?:ed|ing|ure)?|"
                      r"exception|timed? ?out|unhealthy|not found|No such|HTTP [45]\d\d|status: (?:error|failing))",
                      re.I)


def salient_lines(text: str, limit: int = 10, tail: int = 4) -> list[str]:
    """The lines of a tool's output worth showing live: the ones that name a problem (errors,
    warnings, refusals, failing HTTP codes; the latest first), plus the last ``tail`` lines, in order,
    at most ``limit``; hidden stretches are marked, so the line that names the problem is never cut."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if len(lines) <= limit:
        return lines
    keep = set(range(len(lines) - tail, len(lines)))
    for i in range(len(lines) - tail - 1, -1, -1):  # the most recent problems first
        if len(keep) >= limit:
            break
        if _SALIENT.search(lines[i]):
            keep.add(i)
    out, previous = [], -1
    for i in sorted(keep):
        if i > previous + 1:
            out.append(f"... ({i - previous - 1} lines)")
        out.append(lines[i])
        previous = i
    return out


def _action_event_type():
    from openhands.sdk.event import ActionEvent

    return ActionEvent


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
    recorder = _Recorder(console, spec.gatekeeper)
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
            _install_gates(conversation, spec.gatekeeper, remote=remote is not None,
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
                    if not _abort_remote(conversation):
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
            _resume(conversation, spec, recorder)
        else:
            conversation.send_message(spec.incident_message)
        proposed = _run_with_gates(conversation, spec, timed_out) or []
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


# Conversations inside run(), for a process-wide stop (the fan-out's deadlines and Ctrl-C).
_LIVE: dict[int, tuple[object, threading.Event, threading.Event]] = {}
_LIVE_LOCK = threading.Lock()


def abort_remote_conversations(host: str) -> int:
    """End every live conversation on agent server ``host`` now, because that server is gone (the
    orchestrator saw its worker die). Pausing needs the server; instead the conversation's HTTP
    client is closed, so its status poll fails at once (ConversationRunError: the run's error)
    instead of retrying until the SDK's run timeout. Returns how many were aborted."""
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    aborted = 0
    for conversation, *_ in live:
        workspace = getattr(conversation, "workspace", None)
        if str(getattr(workspace, "host", "")).rstrip("/") == host.rstrip("/") and _abort_remote(conversation):
            aborted += 1
    return aborted


def _abort_remote(conversation) -> bool:
    """Close a remote conversation's HTTP client: its run() fails at its next request instead of
    retrying an unreachable server until the SDK's own timeout. False for a local conversation."""
    workspace = getattr(conversation, "workspace", None)
    if not hasattr(workspace, "reset_client"):
        return False
    try:
        workspace.reset_client()
    except Exception:  # noqa: BLE001  already closed
        pass
    return True


def pause_live_conversations(*, only_timed_out: bool = False) -> int:
    """Pause every conversation of this process now in run() (or only those past their deadline).

    pause() takes effect at the next step boundary, and a pause that lands before run() has switched
    the conversation to RUNNING is overwritten: callers repeat this until the runs have returned.
    """
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    paused = 0
    for conversation, timed_out, interrupted in live:
        if only_timed_out and not timed_out.is_set():
            continue
        if not only_timed_out:
            interrupted.set()  # its run ends "interrupted", not "not_fixed"
        try:
            conversation.pause()
            paused += 1
        except Exception:  # e.g. an agent server that went away: its run() fails on its own
            pass
    return paused


def _install_gates(conversation, gatekeeper, remote: bool = False, pause: bool = False) -> None:
    from openhands.sdk.security.confirmation_policy import ConfirmRisky, NeverConfirm
    from openhands.sdk.security.risk import SecurityRisk

    from openhands_driver.gates import make_sdk_analyzer

    # An agent server cannot load this Python analyzer (HTTP 422). Without one, every action's risk
    # is UNKNOWN there, so confirm_unknown stops before every action and _run_with_gates assesses it
    # here, on the client, before it runs.
    if not remote:
        conversation.set_security_analyzer(make_sdk_analyzer(gatekeeper))
    gate = gatekeeper.lowest_gate()
    from openhands_driver import runrecord

    if runrecord.has_change_guard() or pause:  # stop before every change: the guard / operator decides
        gate = "MEDIUM" if gate is None or gate == "HIGH" else gate
    conversation.set_confirmation_policy(
        ConfirmRisky(threshold=SecurityRisk(gate), confirm_unknown=True) if gate else NeverConfirm())


def _resume(conversation, spec: ConversationSpec, recorder: _Recorder) -> None:
    """A restored conversation: the pending actions run (the operator approved them by resuming),
    then the operator's note reaches the agent as a user message (after their results, so every
    tool call is still followed by its result)."""
    from openhands.sdk.conversation.state import ConversationState

    pending = ConversationState.get_unmatched_actions(conversation.state.events)
    note = ("Operator (resumed after review): the proposed actions are approved and were run; "
            "continue the incident." + (f" Note: {spec.operator_note}" if spec.operator_note else ""))
    def after_pending() -> None:
        # The view restored with the conversation dropped the then-unmatched actions (the SDK
        # enforces tool-call matching only when it rebuilds the view): rebuild it now that they
        # have their results, so the model sees each call with its result, then the note.
        conversation.state.rebuild_view()
        conversation.send_message(note)

    from openhands_driver import runrecord

    if pending and runrecord.has_change_guard() and not all(runrecord.before_change(a) for a in pending):
        # the intake's lease (exactly-once remediation): no lease, no change
        conversation.reject_pending_actions("Refused before execution: this run no longer holds the "
                                            "incident's lease; stop and change nothing.")
        return
    if pending:
        recorder.expect(pending, after_pending, "approved by the operator (resume)")
    else:
        conversation.send_message(note)


def _pause_point(spec: ConversationSpec, proposals: list) -> list[dict]:
    """Pause after diagnosis: the first change the agent proposes (MEDIUM or higher) that the gates
    would let run stops the run for the operator. Returns the proposed actions, [] to go on."""
    from openhands_driver.security import risk_rank

    if not spec.pause_after_diagnosis:
        return []
    gatekeeper = spec.gatekeeper
    limit = risk_rank(getattr(gatekeeper, "max_risk", "HIGH") or "HIGH")
    changes = [p for p in proposals if risk_rank("MEDIUM") <= risk_rank(p.risk) <= limit]
    return [{"tool": p.tool, "command": p.command, "risk": p.risk} for p in changes]


def _run_with_gates(conversation, spec: ConversationSpec, timed_out: threading.Event) -> list[dict] | None:
    """run(); whenever the SDK stops for confirmation, let the gatekeeper decide, then go on.

    Returns the proposed changes when the run paused for the operator (pause after diagnosis)."""
    from openhands.sdk.conversation.state import ConversationExecutionStatus, ConversationState

    from openhands_driver.gates import Proposal
    from openhands_driver.security import assess

    gatekeeper = spec.gatekeeper
    for _ in range(spec.max_iterations * 2 + 2):  # bounded: each round consumes an action
        conversation.run()
        if timed_out.is_set():
            return
        if conversation.state.execution_status != ConversationExecutionStatus.WAITING_FOR_CONFIRMATION:
            return
        pending = ConversationState.get_unmatched_actions(conversation.state.events)
        rejections = []
        proposals = []
        for action in pending:
            record = gatekeeper.records.get(action.tool_call_id)
            if record is None and spec.remote_host:  # remote: no server-side analyzer (see above)
                if not _assess_remote(gatekeeper, action):
                    continue  # below every gate: it runs, as ConfirmRisky would let it locally
                record = gatekeeper.records[action.tool_call_id]
            arguments = {"command": record.command} if record else {}
            proposal = Proposal(action.tool_call_id, action.tool_name, record.command if record else "",
                                assess(action.tool_name, arguments, gatekeeper.scope, cwd=gatekeeper.cwd),
                                record.model_risk if record else None,
                                record.risk if record else "HIGH")
            proposals.append(proposal)
        paused = _pause_point(spec, proposals)
        if paused:
            return paused
        for proposal in proposals:
            _decide(spec, proposal, rejections)
        if rejections:
            conversation.reject_pending_actions(" ".join(rejections))
    raise RuntimeError("confirmation loop did not settle within the iteration budget")


def _decide(spec: ConversationSpec, proposal, rejections: list[str]) -> None:
    """The gatekeeper's verdict on one pending action; a refusal's reason goes to ``rejections``."""
    from openhands_driver.gates import EDIT, REJECT, run_edited

    if not _change_allowed(spec.gatekeeper, proposal, rejections):
        return
    decision = spec.gatekeeper.decide(proposal)
    if decision.verdict == REJECT:
        rejections.append(decision.reason)
    elif decision.verdict == EDIT:
        rejections.append(run_edited(decision.command, str(spec.workspace), _edit_env(spec),
                                     prefix=getattr(spec.sandbox, "exec_prefix", None)))


def _change_allowed(gatekeeper, proposal, rejections: list[str]) -> bool:
    """Crash safety (runrecord change guard, e.g. the intake's lease): False when the proposal is
    settled here -- refused because the guard says no, or below every real gate (it then runs as
    it would without the guard). True: the gatekeeper decides as usual."""
    from openhands_driver import runrecord
    from openhands_driver.security import risk_rank

    if not runrecord.has_change_guard() or risk_rank(proposal.risk) < risk_rank("MEDIUM"):
        return True
    if not runrecord.before_change(proposal):
        rejections.append("Refused before execution: this run no longer holds the incident's lease "
                          "(another owner took over); stop and change nothing.")
        return False
    gate = gatekeeper.lowest_gate()
    return gate is not None and risk_rank(proposal.risk) >= risk_rank(gate)


def _assess_remote(gatekeeper, action) -> bool:
    """Assess a remote conversation's pending action; True when it is at or above a gate."""
    import json

    from openhands_driver.security import risk_rank

    try:
        arguments = json.loads(action.tool_call.arguments) if action.tool_call else {}
    except (TypeError, ValueError):
        arguments = {}
    risk = gatekeeper.assess(action.tool_call_id, action.tool_name,
                             arguments if isinstance(arguments, dict) else {})
    gate = gatekeeper.lowest_gate()
    return gate is not None and risk_rank(risk) >= risk_rank(gate)


def _edit_env(spec: ConversationSpec) -> dict[str, str]:
    from openhands.sdk.utils import sanitized_env

    return sanitized_env({**os.environ, **spec.terminal_env})


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
