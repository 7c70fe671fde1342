"""The agent's sandbox: the security boundary of an incident run (the risk policy only labels).

``--sandbox auto|bwrap|none`` (``RunConfig.sandbox``) -> :func:`resolve_kind` (before anything
starts; a missing or unusable bwrap is a ``UserError``, exit 2, naming the package and the opt-out)
-> :func:`open_sandbox` once the target and workspace exist -> :class:`IncidentSandbox`, which the
session hands to the conversation (terminal ``shell_path``, file editor roots) -> ``close()``.

- ``bwrap`` (``auto`` where bubblewrap works): the SDK's terminal runs ``bash`` inside bubblewrap
  (``bwrap.py``): no network, own PID namespace, host filesystem absent or read-only, writable only
  the workspace and the local target's service root, a private /tmp, only the incident's variables.
  ``targetctl`` reaches the target through the broker (``broker.py``) on a unix socket bound into
  the sandbox; a local ``targetctl exec`` runs in a second sandbox writable only in the service
  root. The file editor refuses paths outside the same roots (``file_guard.py``).
- ``none``: today's unconfined terminal; a warning on every run.
- ``agent-server`` (``--remote-host``): the server's workspace is the boundary.

The kind is recorded as ``security.sandbox`` in the result and the trace row.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT

from . import bwrap
from .broker import Broker, host_command

MODES = ("auto", "bwrap", "none")
BWRAP, NONE, AGENT_SERVER = "bwrap", "none", "agent-server"
NONE_WARNING = ("[sandbox] WARNING: --sandbox none: the agent's commands run unconfined on this "
                "machine, with your user's rights; the risk policy labels them but is no wall")
LAUNCHER_PASSTHROUGH = ("PS1", "PS2", "TERM", "PAGER", "GIT_PAGER")  # set by the SDK terminal


def resolve_kind(config) -> str:
    """The sandbox this run gets: ``bwrap``, ``none`` or ``agent-server``. Raises UserError (exit 2)
    before anything starts when bwrap is requested (or ``auto``) but cannot work here."""
    requested = getattr(config, "sandbox", "auto") or "auto"
    if requested not in MODES:
        raise UserError(f"unknown sandbox {requested!r}; valid: {', '.join(MODES)}")
    if getattr(config, "remote_host", None):
        if requested == BWRAP:
            raise UserError("--sandbox bwrap sandboxes a local terminal, but with --remote-host the "
                            "agent's terminal runs on the agent server; use --sandbox auto")
        return AGENT_SERVER
    if requested == NONE:
        return NONE
    problem = bwrap.unavailable_reason()
    if problem:
        raise UserError(f"the agent sandbox cannot start: {problem}. Install bubblewrap "
                        f"(`{bwrap.INSTALL_HINT}`), or run unconfined with `--sandbox none`")
    return BWRAP


def copy_skills(workspace: Path, source: Path = REPO_ROOT / ".agents") -> None:
    """Copy the skills into the workspace (never a symlink: the sandbox has no repository)."""
    shutil.copytree(source, workspace / ".agents", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


@dataclass
class IncidentSandbox:
    """One run's sandbox: what the conversation needs, and what to stop at the end."""

    kind: str
    shell_path: str | None = None                  # the terminal's shell (a bwrap launcher)
    editor_roots: tuple[str, ...] | None = None    # the file editor's allowed roots
    exec_prefix: list[str] | None = None           # wraps an operator-edited command (gates)
    _broker: Broker | None = None
    _state_dir: Path | None = None

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()
            self._broker = None
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None


def open_sandbox(kind: str, target, workspace: Path, console: TextIO = sys.stderr) -> IncidentSandbox:
    """Build this run's sandbox for ``target`` and ``workspace`` (broker started for bwrap)."""
    if kind == NONE:
        print(NONE_WARNING, file=console, flush=True)
        return IncidentSandbox(NONE, editor_roots=_roots(target, workspace))
    if kind != BWRAP:
        return IncidentSandbox(kind)
    state = Path(tempfile.mkdtemp(prefix="sre-sandbox-"))
    try:
        return _open_bwrap(target, Path(workspace), state)
    except BaseException:
        shutil.rmtree(state, ignore_errors=True)
        raise


def _roots(target, workspace: Path) -> tuple[str, ...]:
    """Writable roots: the workspace, and the service root when it is on this host (local)."""
    roots = [str(workspace)]
    if target.backend == "local":
        roots.append(str(target.root))
    return tuple(roots)


def _tools_dir(state: Path) -> Path:
    """A copy of what the sandbox runs from the repository: targetctl and the terminal's inputrc."""
    tools = state / "tools"
    (tools / "bin").mkdir(parents=True)
    (tools / "openhands_driver").mkdir()
    shutil.copy2(REPO_ROOT / "bin" / "targetctl", tools / "bin" / "targetctl")
    for name in ("targetctl.py", "targetctl_docker.py"):
        shutil.copy2(REPO_ROOT / "openhands_driver" / name, tools / "openhands_driver" / name)
    shutil.copy2(REPO_ROOT / "openhands_driver" / "terminal.inputrc", tools / "terminal.inputrc")
    return tools


def _open_bwrap(target, workspace: Path, state: Path) -> IncidentSandbox:
    from openhands_driver.targetctl import ENV_BROKER

    tools = _tools_dir(state)
    python_inside = bwrap.system_python()[0]
    control = {k: v for k, v in target.control_env().items() if k.startswith("TARGETCTL_")}
    lang = {"LANG": "C.UTF-8"}
    roots = _roots(target, workspace)
    exec_env = {"PATH": bwrap.SANDBOX_PATH, **lang, "HOME": str(target.root), **control}
    targetctl_inside = f"{bwrap.TOOLS_MOUNT}/openhands_driver/targetctl.py"
    host_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **lang, **target.control_env()}

    def plan(argv: list[str]) -> tuple[list[str], dict[str, str]]:
        if argv[:1] == ["exec"] and target.backend == "local":
            sandbox = bwrap.exec_argv(root=str(target.root), tools_dir=tools, env=exec_env)
            return [*sandbox, "--", python_inside, targetctl_inside, *argv], {}
        return host_command(argv), host_env

    broker = Broker(state / "broker.sock", plan).start()
    env = {"PATH": bwrap.SANDBOX_PATH, **lang, "HOME": str(workspace),
           "INPUTRC": f"{bwrap.TOOLS_MOUNT}/terminal.inputrc", **control,
           ENV_BROKER: bwrap.BROKER_MOUNT, "TARGETCTL_PYTHON": python_inside}
    argv = bwrap.terminal_argv(writable=list(roots), tools_dir=tools, broker_socket=state / "broker.sock",
                               workspace=workspace, env=env)
    shell = shutil.which("bash") or "/bin/bash"
    launcher = state / "shell.sh"
    passthrough = " ".join(f'--setenv {name} "${{{name}:-}}"' for name in LAUNCHER_PASSTHROUGH)
    # Not `exec`: bwrap's --die-with-parent fires when the *thread* that forked it ends, and the
    # SDK starts the terminal from a short-lived worker thread. This sh stays as bwrap's parent.
    # `env -i`: bwrap itself (pid 1 inside, its /proc/1/environ readable) must not hold the host's
    # environment either; --clearenv only cleans the shell's.
    env_i = shutil.which("env") or "/usr/bin/env"
    launcher.write_text("#!/bin/sh\n# The agent terminal's shell, inside bubblewrap "
                        "(openhands_driver/sandbox). Generated per incident.\n"
                        f"{_quote([env_i, '-i', *argv])} {passthrough} -- {_quote(bwrap.shell_argv(shell))} \"$@\"\n",
                        encoding="utf-8")
    launcher.chmod(0o700)
    exec_prefix = [env_i, "-i", *argv, "--"]
    return IncidentSandbox(BWRAP, shell_path=str(launcher), editor_roots=roots, exec_prefix=exec_prefix,
                           _broker=broker, _state_dir=state)


def _quote(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in argv)


__all__ = ["MODES", "BWRAP", "NONE", "AGENT_SERVER", "IncidentSandbox", "resolve_kind", "open_sandbox",
           "copy_skills"]
