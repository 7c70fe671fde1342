"""OpenHands agent servers: run an incident's conversation in a remote workspace.

``--remote-host URL`` runs the agent loop and its terminal on an OpenHands agent server
(``openhands-agent-server``, the project's optional extra ``remote``) through the SDK's
``RemoteWorkspace``. The target and the verifier stay with the runner; the brain is whatever the run
uses (the offline runbook endpoint or a real model), called *by the server*.

What crosses the boundary, per incident:
- a fresh working directory on the server (``/tmp/sre-remote-<workspace name>/work``) holding a copy
  of the incident workspace's ``.agents`` skills (uploaded file by file through the server's file API,
  so it works on any host) and the terminal's ``INPUTRC``; removed again when the conversation closes;
- the terminal tool's ``env``: the target's ``TARGETCTL_*`` variables. Client-side facts (``PATH``,
  ``TARGETCTL_PYTHON``) are *not* sent: ``targetctl`` must be on the server's own ``PATH``.

Requirements on the server host (README "Remote agent servers"):
- ``<repo>/bin`` on the server's ``PATH`` (``targetctl``) and ``LITELLM_LOCAL_MODEL_COST_MAP=True``
  (offline start-up): ``scripts/agent_server.sh --port 8010`` sets both;
- it can reach the brain's URL (the runbook endpoint listens on 127.0.0.1 of the runner's host) and the
  target: with the local backend the target is a process group on the runner's host, so ``targetctl``
  on the server must see the same loopback and filesystem. That holds for servers on the runner's own
  host; a server on another machine needs the target placed on that machine (not provided here).

Importing this module is cheap; the SDK is imported only by :func:`open_session`.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT

API_KEY_ENV = "SRE_AGENT_SERVER_API_KEY"  # the server's SESSION_API_KEY, when it has one
CLIENT_ONLY_ENV = ("PATH", "TARGETCTL_PYTHON", "INPUTRC")  # facts of the runner's host, not the server's
REMOTE_ROOT = "/tmp"
INPUTRC = Path(__file__).with_name("terminal.inputrc")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
START_HINT = "start one with: scripts/agent_server.sh --port 8010 (openhands.agent_server, offline-safe)"


def parse_hosts(values: Iterable[str] | str | None) -> list[str]:
    """``--remote-host`` values (repeatable, comma-separated) -> base URLs, order kept, no repeats."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    hosts: list[str] = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip().rstrip("/")
            if not part:
                continue
            if "://" not in part:
                part = f"http://{part}"
            if not part.startswith(("http://", "https://")):
                raise UserError(f"--remote-host {part!r}: use http(s)://HOST:PORT of an agent server")
            if part not in hosts:
                hosts.append(part)
    return hosts


def health(host: str, timeout_s: float = 3.0) -> str | None:
    """None when ``GET <host>/health`` answers ok, else the reason."""
    try:
        with _NO_PROXY.open(f"{host}/health", timeout=timeout_s) as response:
            body = response.read().decode("utf-8", "replace")
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"connection failed: {getattr(exc, 'reason', exc)}"
    if status == 200 and "ok" in body.lower():
        return None
    return f"HTTP {status}: {body[:200]}"


def check_hosts(hosts: Iterable[str]) -> None:
    """Raise UserError naming every agent server that is not healthy, with how to start one."""
    problems = [f"{host}: {reason}" for host in hosts if (reason := health(host)) is not None]
    if problems:
        raise UserError("agent server not reachable (" + "; ".join(problems) + "); " + START_HINT)


@dataclass
class RemoteSession:
    """One incident's remote workspace: what ``conversation.run_conversation`` needs, and its cleanup."""

    host: str
    workspace: object  # openhands.sdk.workspace.RemoteWorkspace
    base_dir: str      # removed on close
    working_dir: str
    skills: list = field(default_factory=list)
    terminal_env: dict[str, str] = field(default_factory=dict)
    also_remove: list[str] = field(default_factory=list)  # what the run put in a given working dir
    kept_entries: list[str] | None = None  # a given working dir's entries before the run (kept)
    _closed: bool = False

    def close(self) -> None:
        """Remove the server-side directory and release the HTTP client. Idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            extra = list(self.also_remove)
            if self.kept_entries is not None:  # a given working dir: remove what appeared in it
                extra += [f"{self.working_dir}/{name}" for name in _entries(self.workspace, self.working_dir)
                          if name not in self.kept_entries]
            paths = " ".join(shlex.quote(p) for p in dict.fromkeys((self.base_dir, *extra)))
            self.workspace.execute_command(f"rm -rf {paths}", timeout=20)
        except Exception:  # best effort: the server may already be gone
            pass
        try:
            self.workspace.reset_client()
        except Exception:
            pass


def remote_terminal_env(terminal_env: dict[str, str], inputrc: str) -> dict[str, str]:
    """The terminal env sent to the server: the target's variables, minus the runner host's facts."""
    env = {k: v for k, v in terminal_env.items() if k not in CLIENT_ONLY_ENV}
    env["INPUTRC"] = inputrc
    return env


def open_session(host: str, local_workspace: Path, terminal_env: dict[str, str],
                 working_dir: str | None = None) -> RemoteSession:
    """Create the incident's working directory on ``host`` and load its skills (imports the SDK).

    ``local_workspace`` is the runner's per-incident workspace: its ``.agents`` (present when the
    strategy loads skills) is what the agent gets, on the server as locally. ``working_dir``
    (``--remote-working-dir``): the agent works there instead of a fresh directory; the run removes
    only what it put there (``.agents`` and its own ``.sre-run-*`` directory), never the directory.
    """
    from openhands.sdk.skills import load_project_skills
    from openhands.sdk.workspace import RemoteWorkspace

    also_remove: list[str] = []
    if working_dir:
        working_dir = working_dir.rstrip("/") or "/"
        base_dir = f"{working_dir}/.sre-run-{local_workspace.name}"
        also_remove.append(f"{working_dir}/.agents")
    else:
        base_dir = f"{REMOTE_ROOT}/sre-remote-{local_workspace.name}"
        working_dir = f"{base_dir}/work"
    workspace = RemoteWorkspace(host=host, working_dir=working_dir, api_key=os.environ.get(API_KEY_ENV))
    session = RemoteSession(host, workspace, base_dir, working_dir, also_remove=also_remove)
    if also_remove:  # a given working dir: what is there now stays, whatever the run adds goes
        workspace.execute_command(f"mkdir -p {shlex.quote(working_dir)}", timeout=20)
        session.kept_entries = _entries(workspace, working_dir)
    try:
        _upload(workspace, INPUTRC, f"{base_dir}/terminal.inputrc")
        agents = local_workspace / ".agents"
        if agents.exists():
            root = agents.resolve()
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    _upload(workspace, path, f"{working_dir}/.agents/{path.relative_to(root).as_posix()}")
        session.skills = list(load_project_skills(local_workspace))
        session.terminal_env = remote_terminal_env(terminal_env, f"{base_dir}/terminal.inputrc")
    except BaseException:
        session.close()
        raise
    return session


def _entries(workspace, directory: str) -> list[str]:
    """The names in ``directory`` on the server (hidden ones too)."""
    result = workspace.execute_command(f"ls -A1 {shlex.quote(directory)}", timeout=20)
    return [line for line in (getattr(result, "stdout", "") or "").splitlines() if line and "/" not in line]


def _upload(workspace, source: Path, destination: str) -> None:
    result = workspace.file_upload(str(source), destination)
    if not getattr(result, "success", False):
        raise RuntimeError(f"upload of {source} to {workspace.host}:{destination} failed: "
                           f"{getattr(result, 'error', result)}")


# --- a local agent server process (tests, benchmarks, one-machine demos) -----------------------

class LocalAgentServer:
    """``python -m openhands.agent_server`` on 127.0.0.1, with ``<repo>/bin`` on its PATH.

    ``with LocalAgentServer() as server: server.url``. Its state lives in a temp directory (the
    server keeps conversations under ``./workspace`` of its working directory). ``stop()`` ends the
    server's whole process group (the terminals it started included).
    """

    def __init__(self, port: int | None = None, *, python: str | None = None,
                 start_timeout_s: float = 90.0, log_path: Path | None = None):
        from openhands_driver.target.local import free_ports

        self.port = port or free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.python = python or sys.executable
        self.start_timeout_s = start_timeout_s
        self._tmp = tempfile.TemporaryDirectory(prefix="sre-agent-server-")
        self.log_path = log_path or Path(self._tmp.name) / "agent-server.log"
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available(python: str | None = None) -> bool:
        """True when the agent server package is installed for ``python``."""
        probe = "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('openhands.agent_server') else 1)"
        return subprocess.run([python or sys.executable, "-c", probe], capture_output=True).returncode == 0

    def environment(self) -> dict[str, str]:
        """This process's environment minus model keys (the agent's terminals inherit the server's)."""
        from openhands_driver.model import SECRET_VARS

        env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
        env["PATH"] = os.pathsep.join([str(REPO_ROOT / "bin"), str(Path(self.python).parent),
                                       env.get("PATH", "")])
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        env.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
        env.setdefault("TARGETCTL_PYTHON", self.python)
        env.setdefault("LOG_LEVEL", "WARNING")
        return env

    @property
    def argv(self) -> list[str]:
        return [self.python, "-m", "openhands.agent_server", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self) -> "LocalAgentServer":
        return self.launch().wait_ready()

    def launch(self) -> "LocalAgentServer":
        """Start the process without waiting (start several, then wait_ready() on each)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self._tmp.name, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        return self

    def wait_ready(self) -> "LocalAgentServer":
        """Wait for GET /health; on failure stop the server and raise with its log tail."""
        assert self.proc is not None, "launch() first"
        argv = self.argv
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if health(self.url, timeout_s=1.0) is None:
                return self
            time.sleep(0.25)
        tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        self.stop()
        raise RuntimeError(f"agent server {' '.join(argv)} did not answer {self.url}/health within "
                           f"{self.start_timeout_s:.0f}s; log tail:\n{tail}")

    def stop(self) -> None:
        if self.proc is not None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            try:  # whatever the server started in its group (agent terminals) goes too
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc = None
        self._tmp.cleanup()

    def describe(self) -> dict:
        return {"url": self.url, "pid": self.proc.pid if self.proc else None, "log": str(self.log_path)}

    def __enter__(self) -> "LocalAgentServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["API_KEY_ENV", "LocalAgentServer", "RemoteSession", "check_hosts", "health", "open_session",
           "parse_hosts", "remote_terminal_env"]
