"""A conversation's events -> action records, and the compact live view on the console.

The SDK's event classes are imported inside the functions that need them (``conversation.py`` owns
the SDK import; dry runs never reach this module).
"""

from __future__ import annotations

import os
import re
import time
from typing import Callable, TextIO

from openhands_driver.records import ActionRecord

EXCERPT_CHARS = 2000


class Recorder:
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
