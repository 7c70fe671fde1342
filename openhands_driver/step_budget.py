"""The per-command budget (``--step-timeout-s``): a terminal command past it is stopped, the run goes on.

:func:`register` adds a tool ``bounded_terminal`` that the model still sees as ``terminal``: the
SDK's terminal tool, whose executor gives every command the SDK's hard timeout (``timeout`` of the
``TerminalAction``; a smaller one the model asked for is kept). The SDK only returns control when
that timeout passes and leaves the command running; this executor then stops it: the terminal's
foreground process group (the command's job, read from the PTY with ``tcgetpgrp``) and every
descendant of its members are killed (SIGKILL), or, when the shell itself is in the foreground (a
loop of builtins), Ctrl-C is sent. It waits for the prompt and returns an observation that tells
the agent what happened (exit code 124, ``timeout: true``, marked with :data:`MARK`), which the
recorder turns into ``timed_out: true`` on the action. SDK imports stay inside functions.
"""

from __future__ import annotations

import os
import signal
import threading
import time

TOOL_NAME = "bounded_terminal"
MARK = "[step timeout]"
EXIT_CODE = 124  # what coreutils' timeout(1) returns
_REGISTERED = threading.Lock()
_DONE: list[bool] = []


def _descendants(pids: set[int]) -> set[int]:
    import psutil

    found = set(pids)
    for pid in pids:
        try:
            found.update(child.pid for child in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            continue
    return found


def _group_members(pgid: int) -> set[int]:
    import psutil

    members = set()
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid:
                members.add(proc.pid)
        except OSError:
            continue
    return members


def stop_foreground(terminal) -> tuple[str, int]:
    """Stop what runs in the foreground of the SDK terminal; (how, processes killed)."""
    fd = getattr(terminal, "_pty_master_fd", None)
    try:
        pgid = os.tcgetpgrp(fd) if fd is not None else None
    except OSError:
        pgid = None
    if pgid is None or pgid <= 1:
        terminal.interrupt()
        return "interrupted (Ctrl-C)", 0
    try:
        shell_in_front = os.getsid(pgid) == pgid  # the shell is its session's leader
    except OSError:
        shell_in_front = False
    if shell_in_front:
        os.write(fd, b"\x03")  # Ctrl-C through the line discipline: the shell aborts its loop
        return "interrupted (Ctrl-C to the shell)", 0
    victims = _descendants(_group_members(pgid))
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return "killed", len(victims)


def register() -> str:
    """Register the bounded terminal with the SDK (once per process); returns its registry name."""
    with _REGISTERED:
        if _DONE:
            return TOOL_NAME
        from openhands.sdk.tool import ToolExecutor, register_tool
        from openhands.tools.terminal import TerminalTool
        from openhands.tools.terminal.definition import TerminalAction, TerminalObservation

        class BoundedExecutor(ToolExecutor):
            def __init__(self, inner, step_timeout_s: float) -> None:
                self.inner, self.step_timeout_s = inner, float(step_timeout_s)

            def __call__(self, action, conversation=None):
                if action.is_input or not action.command.strip() or action.reset:
                    return self.inner(action, conversation)
                limit = min(action.timeout or self.step_timeout_s, self.step_timeout_s)
                started = time.monotonic()
                observation = self.inner(action.model_copy(update={"timeout": limit}), conversation)
                if observation.exit_code != -1 or time.monotonic() - started < limit:
                    return observation
                how, killed = stop_foreground(self.inner.session.terminal)
                after = self.inner(TerminalAction(command="", timeout=5), conversation)
                if after.exit_code == -1:  # still not back at the prompt: one more Ctrl-C
                    self.inner.session.terminal.interrupt()
                    after = self.inner(TerminalAction(command="", timeout=5), conversation)
                note = (f"\n{MARK} `{action.command.strip()[:200]}` ran past the step timeout "
                        f"(--step-timeout-s {self.step_timeout_s:g} s) and was stopped: {how}"
                        f"{f', {killed} process(es)' if killed else ''}. The run goes on; do not rerun "
                        "it unchanged: bound it (e.g. `timeout 10 CMD`, `-n 50`) or use another check.")
                text = (observation.text or "").rstrip() + note
                result = TerminalObservation.from_text(text=text, command=action.command,
                                                       exit_code=EXIT_CODE, is_error=True)
                return result.model_copy(update={"timeout": True})

            def close(self) -> None:
                self.inner.close()

        class BoundedTerminalTool(TerminalTool):
            name = "terminal"  # what the model calls; registered under TOOL_NAME

            @classmethod
            def create(cls, conv_state, step_timeout_s: float | None = None, **params):
                tools = super().create(conv_state, **params)
                if not step_timeout_s:
                    return tools
                return [tool.model_copy(update={"executor": BoundedExecutor(tool.executor, step_timeout_s)})
                        for tool in tools]

        register_tool(TOOL_NAME, BoundedTerminalTool)
        _DONE.append(True)
    return TOOL_NAME


def timed_out(observation) -> bool:
    """True for an observation this module produced (a command stopped by the step timeout)."""
    return bool(getattr(observation, "timeout", False)) and MARK in (getattr(observation, "text", "") or "")
