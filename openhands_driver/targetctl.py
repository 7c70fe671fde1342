"""targetctl: the agent's control surface for the incident's target service (stdlib only, py>=3.9).

Configured entirely by environment (from Target.control_env()):
    TARGETCTL_BACKEND        local | docker | ssh
    TARGETCTL_URL            health URL probed by the verifier
    TARGETCTL_ROOT           service root (as seen by `targetctl exec`)
    TARGETCTL_EXPECTED_PORT  port the service must listen on
    TARGETCTL_SERVICE        the service's name (informational)
    TARGETCTL_CONTAINER      docker backend: the incident's container (name or id)
    DOCKER_HOST              docker backend: the engine (default unix:///var/run/docker.sock)
    TARGETCTL_SSH_*          ssh backend: destination, port, known_hosts, the run's control socket
                             and remote directory (targetctl_ssh.py; never an identity file)
    TARGETCTL_BROKER         in the agent's sandbox: the runner's broker socket (see below)

Commands:
    targetctl info               service, backend, probe url, expected port, service root
    targetctl status             GET the health URL; exit 0 on HTTP 200, 1 otherwise
    targetctl logs [-n N]        tail the service log
    targetctl restart            restart the app via its supervisor; wait until it is back
    targetctl exec CMD [ARG...]  run a command in the service root (no shell)

The local-backend helpers (pid files, restart, tail) are also used by openhands_driver.target.local,
so the restart protocol lives in one place. `write_shim()` puts a `targetctl` on a bin dir.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ENV_BACKEND = "TARGETCTL_BACKEND"
ENV_URL = "TARGETCTL_URL"
ENV_ROOT = "TARGETCTL_ROOT"
ENV_EXPECTED_PORT = "TARGETCTL_EXPECTED_PORT"
ENV_SERVICE = "TARGETCTL_SERVICE"
REQUIRED_ENV = (ENV_BACKEND, ENV_URL, ENV_ROOT, ENV_EXPECTED_PORT)
BACKENDS = ("local", "docker", "ssh")

SUPERVISOR_PID = "var/run/supervisor.pid"
SUPERVISOR_STATE = "var/run/supervisor.state"  # JSON the supervisor writes on every decision
APP_PID = "var/run/app.pid"
# Supervisor states meaning "the app is not running and will not come up by waiting".
APP_DOWN_STATES = ("scaled_to_zero", "release_error", "config_error", "backoff", "pending")
LOG_FILE = "var/log/service.log"
POLL_S = 0.02


class TargetctlError(Exception):
    """A user-fixable problem: printed without a traceback, exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def require_env(name: str, env: Optional[Dict[str, str]] = None) -> str:
    value = (os.environ if env is None else env).get(name, "")
    if not value:
        raise TargetctlError(
            "environment variable %s is not set; targetctl must run in an incident terminal "
            "configured from Target.control_env() (needs %s)" % (name, ", ".join(REQUIRED_ENV)))
    return value


# --- local backend helpers (shared with openhands_driver.target.local) -----------------------

def read_pid(path: Path) -> Optional[int]:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: Optional[int]) -> bool:
    """True if pid exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def tail_file(path: Path, lines: int = 50) -> str:
    """Last `lines` lines of a text file ("" if it does not exist)."""
    if lines <= 0:
        return ""
    try:
        with open(str(path), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            size = min(end, 8192)
            while True:
                handle.seek(end - size)
                data = handle.read(size)
                if data.count(b"\n") > lines or size == end:
                    break
                size = min(end, size * 4)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) + ("\n" if kept else "")


def wait_for_app(root: Path, old_pid: Optional[int], timeout_s: float,
                 supervisor_pid: Optional[int] = None) -> Optional[int]:
    """Wait until var/run/app.pid names a live process other than old_pid; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        pid = read_pid(Path(root) / APP_PID)
        if pid and pid != old_pid and pid_alive(pid):
            return pid
        if supervisor_pid is not None and not pid_alive(supervisor_pid):
            return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def read_state(root: Path) -> Dict[str, object]:
    """The supervisor's last recorded decision ({} when there is none yet)."""
    try:
        data = json.loads((Path(root) / SUPERVISOR_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def wait_for_supervisor(root: Path, timeout_s: float,
                        supervisor_pid: Optional[int] = None) -> Optional[Dict[str, object]]:
    """Wait until the supervisor has recorded its first start decision (app started, or why it
    will not run: scaled to zero, release missing, ...). Its state; None on timeout or if it died.
    For faults that keep the app down, where waiting for an app pid would never end."""
    deadline = time.monotonic() + timeout_s
    while True:
        sup = supervisor_pid or read_pid(Path(root) / SUPERVISOR_PID)
        state = read_state(root)
        if sup and state.get("supervisor_pid") == sup:
            return state
        if supervisor_pid is not None and not pid_alive(supervisor_pid):
            return None
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def restart_local(root: Path, timeout_s: float = 10.0) -> Tuple[Optional[int], int]:
    """SIGHUP the supervisor and wait for a new app process. Returns (old_pid, new_pid).
    Fails at once when the supervisor reports the app will not come up (scaled to zero, release
    not runnable, crashed again), instead of waiting out the timeout."""
    root = Path(root)
    sup_path = root / SUPERVISOR_PID
    sup = read_pid(sup_path)
    if not pid_alive(sup):
        raise TargetctlError("supervisor is not running (pid file %s: %s); the service cannot be "
                             "restarted. Check `targetctl logs`." % (sup_path, sup or "missing"), 1)
    old = read_pid(root / APP_PID)
    old = old if pid_alive(old) else None
    before = read_state(root)
    restarts = before.get("restarts", 0) if before.get("supervisor_pid") == sup else 0
    os.kill(sup, signal.SIGHUP)
    deadline = time.monotonic() + timeout_s
    while True:
        new = read_pid(root / APP_PID)
        if new and new != old and pid_alive(new):
            return old, new
        state = read_state(root)
        if (state.get("supervisor_pid") == sup and state.get("state") in APP_DOWN_STATES
                and isinstance(state.get("restarts"), int) and state["restarts"] > restarts):
            raise TargetctlError(
                "service did not come back after restart: %s (supervisor state: %s).\n"
                "Last log lines:\n%s" % (state.get("detail"), state.get("state"),
                                         tail_file(root / LOG_FILE, 15)), 1)
        if not pid_alive(sup) or time.monotonic() >= deadline:
            raise TargetctlError(
                "service did not come back within %.0fs after restart (no live pid in %s).\n"
                "Last log lines:\n%s" % (timeout_s, APP_PID, tail_file(root / LOG_FILE, 15)), 1)
        time.sleep(POLL_S)


# --- HTTP probe ------------------------------------------------------------------------------

def probe(url: str, timeout_s: float = 2.0) -> Tuple[Optional[int], str, Optional[str]]:
    """GET url without proxies. Returns (http_code or None, body, connection error or None)."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with opener.open(request, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), None
    except urllib.error.URLError as exc:
        return None, "", str(exc.reason)
    except OSError as exc:  # timeouts, resets
        return None, "", str(exc) or type(exc).__name__


# --- commands --------------------------------------------------------------------------------

def cmd_info(env: Dict[str, str]) -> int:
    print("service: %s" % (env.get(ENV_SERVICE) or "unknown"))
    print("backend: %s" % require_env(ENV_BACKEND, env))
    print("probe url: %s" % require_env(ENV_URL, env))
    print("expected port: %s" % require_env(ENV_EXPECTED_PORT, env))
    print("service root: %s" % require_env(ENV_ROOT, env))
    if env.get(ENV_BACKEND) == "local":  # the platform API its supervisor serves (ops_api.py)
        try:
            ops = json.loads((Path(env[ENV_ROOT]) / "var/run/ops.json").read_text(encoding="utf-8"))
            print("ops api: %s/ops/ (bearer token in var/run/ops.token)" % ops["url"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if env.get("TARGETCTL_SSH_DEST"):
        print("ssh host: %s (port %s)" % (env["TARGETCTL_SSH_DEST"], env.get("TARGETCTL_SSH_PORT") or 22))
    if env.get(ENV_CONTAINER):
        print("container: %s (DOCKER_HOST %s)" % (env[ENV_CONTAINER],
                                                  env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST))
    return 0


def cmd_status(env: Dict[str, str]) -> int:
    url = require_env(ENV_URL, env)
    code, body, error = probe(url)
    if code is None:
        print("connection failed: %s (url %s)" % (error, url))
        return 1
    print("HTTP %d" % code)
    try:
        print(json.dumps(json.loads(body), indent=2))
    except ValueError:
        print(body.rstrip("\n"))
    return 0 if code == 200 else 1


def cmd_logs(env: Dict[str, str], lines: int) -> int:
    root = Path(require_env(ENV_ROOT, env))
    path = root / LOG_FILE
    if not path.exists():
        raise TargetctlError("no service log at %s yet" % path, 1)
    sys.stdout.write(tail_file(path, lines))
    return 0


def cmd_restart(env: Dict[str, str], timeout_s: float) -> int:
    old, new = restart_local(Path(require_env(ENV_ROOT, env)), timeout_s)
    print("restarted: app pid %d (was %s)" % (new, old if old else "not running"))
    return 0


def cmd_exec(env: Dict[str, str], argv: List[str]) -> int:
    if not argv:
        raise TargetctlError("usage: targetctl exec CMD [ARG...]  (runs in the service root, "
                             "no shell; use `targetctl exec sh -c '...'` for pipes)")
    root = require_env(ENV_ROOT, env)
    try:
        return subprocess.call(argv, cwd=root)
    except FileNotFoundError:
        raise TargetctlError("command not found: %s" % argv[0], 127)
    except PermissionError:
        raise TargetctlError("permission denied running: %s" % argv[0], 126)


# --- docker backend: the Docker Engine HTTP API with the stdlib only ------------------------
# targetctl often runs under a system python3 without the docker SDK, so it speaks the Engine API
# itself (unix socket or plain tcp): that client is targetctl_docker.py, next to this file, loaded
# only for the docker backend. `exec` runs the command in the container's service root; `logs`
# and `restart` run this very file inside the container (its python3, this source alone) with the
# local backend against "/", so the restart protocol above is the only one.

ENV_CONTAINER = "TARGETCTL_CONTAINER"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
ENGINE_NAMES = ("DockerEngine", "EngineError", "ENGINE_HINT", "_demux", "_read_exact")
CONTAINER_BOOT = ("import sys; ns = {'__name__': 'targetctl_in_container'}; "
                  "exec(compile(sys.argv[1], 'targetctl.py', 'exec'), ns); "
                  "sys.exit(ns['main'](sys.argv[2:]))")


def in_container_argv(args: Sequence[str]) -> List[str]:
    """argv that runs `targetctl ARGS` inside the container (python3 there, source passed inline)."""
    source = Path(__file__).read_text(encoding="utf-8")
    return ["python3", "-c", CONTAINER_BOOT, source] + list(args)


def in_container_env(root: str = "/", port: str = "8080") -> Dict[str, str]:
    """Environment for in_container_argv: the local backend on the container's service root."""
    return {ENV_BACKEND: "local", ENV_ROOT: root, ENV_EXPECTED_PORT: port,
            ENV_URL: "http://127.0.0.1:%s/" % port}


def engine_module():
    """targetctl_docker, the Docker Engine API client: a sibling of this file, imported from the
    package, or from this file's own directory when targetctl runs as a script."""
    if globals().get("__package__"):
        from . import targetctl_docker
        return targetctl_docker
    here = os.path.dirname(os.path.abspath(globals().get("__file__") or "targetctl.py"))
    if here not in sys.path:
        sys.path.insert(0, here)
    import targetctl_docker
    return targetctl_docker


def __getattr__(name: str):
    """The engine client's names stay importable from targetctl (loaded on first use)."""
    if name in ENGINE_NAMES:
        return getattr(engine_module(), name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def docker_backend(command: str, args: argparse.Namespace, env: Dict[str, str]) -> int:
    """logs / restart / exec on the incident's container (TARGETCTL_CONTAINER)."""
    container = require_env(ENV_CONTAINER, env)
    root = require_env(ENV_ROOT, env)
    if command == "exec" and not args.argv:
        return cmd_exec(env, [])  # raises the usage error
    engine_api = engine_module()
    engine = engine_api.DockerEngine(env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST)
    try:
        if command == "exec":
            return engine.exec(container, args.argv, workdir=root)
        inner = (["logs", "-n", str(args.lines)] if command == "logs"
                 else ["restart", "--timeout", str(args.timeout)])
        port = env.get(ENV_EXPECTED_PORT) or "8080"
        return engine.exec(container, in_container_argv(inner), env=in_container_env(root, port))
    except engine_api.EngineError as exc:
        raise TargetctlError(str(exc), exc.code) from None


def sibling_module(name: str):
    """A stdlib sibling of this file (targetctl_docker, targetctl_ssh): imported from the package,
    or from this file's own directory when targetctl runs as a script."""
    if globals().get("__package__"):
        import importlib
        return importlib.import_module("%s.%s" % (__package__, name))
    here = os.path.dirname(os.path.abspath(globals().get("__file__") or "targetctl.py"))
    if here not in sys.path:
        sys.path.insert(0, here)
    import importlib
    return importlib.import_module(name)


def ssh_backend(command: str, args: argparse.Namespace, env: Dict[str, str]) -> int:
    """logs / restart / exec on the remote host, over the run's SSH connection (targetctl_ssh.py)."""
    root = require_env(ENV_ROOT, env)
    if command == "exec" and not args.argv:
        return cmd_exec(env, [])  # raises the usage error
    ssh = sibling_module("targetctl_ssh")
    try:
        return ssh.ssh_backend(command, args, env, env.get(ENV_EXPECTED_PORT) or "8080", root)
    except ssh.SshError as exc:
        raise TargetctlError(str(exc), exc.code) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="targetctl",
                                     description="Control the incident's target service.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="service, backend, probe url, expected port, service root")
    sub.add_parser("status", help="probe the health URL (exit 0 only on HTTP 200)")
    logs = sub.add_parser("logs", help="tail the service log")
    logs.add_argument("-n", "--lines", type=int, default=50, help="number of lines (default 50)")
    restart = sub.add_parser("restart", help="restart the app and wait until it is back")
    restart.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    sub.add_parser("exec", help="run CMD [ARG...] in the service root (no shell)")
    return parser


def main(argv: Optional[Sequence[str]] = None, env: Optional[Dict[str, str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ if env is None else env)
    if env.get(ENV_BROKER) and argv[:1] and argv[0] in BROKER_VERBS:  # sandboxed: see the broker section
        return broker_main(argv, env[ENV_BROKER])
    parser = _parser()
    try:
        if argv and argv[0] == "exec":  # everything after `exec` belongs to the command
            rest = argv[1:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            args = argparse.Namespace(command="exec", argv=rest)
        else:
            args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "info":
            return cmd_info(env)
        if args.command == "status":
            return cmd_status(env)
        backend = require_env(ENV_BACKEND, env)
        if backend == "docker":
            return docker_backend(args.command, args, env)
        if backend == "ssh":
            return ssh_backend(args.command, args, env)
        if backend != "local":
            raise TargetctlError("unknown %s=%r; valid backends: %s"
                                 % (ENV_BACKEND, backend, ", ".join(BACKENDS)))
        if args.command == "logs":
            return cmd_logs(env, args.lines)
        if args.command == "restart":
            return cmd_restart(env, args.timeout)
        return cmd_exec(env, args.argv)
    except TargetctlError as exc:
        print("targetctl: %s" % exc, file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


# --- broker client (sandboxed agent terminals) -----------------------------------------------
# Inside the agent's sandbox (openhands_driver/sandbox/) there is no network and no view of the
# target's processes. There TARGETCTL_BROKER names a unix socket to the runner's broker, which runs
# the verb for this incident's target and streams back stdout, stderr and the exit code, so the
# output is exactly targetctl's. Frames: kind (1 byte) + length (4 bytes, big endian) + payload;
# see openhands_driver/sandbox/broker.py for the other end.

ENV_BROKER = "TARGETCTL_BROKER"
BROKER_VERBS = ("info", "status", "logs", "restart", "exec")  # anything else: parsed (and refused) here


def _broker_frame(sock, kind: bytes, payload: bytes = b"") -> None:
    import struct

    sock.sendall(struct.pack(">cI", kind, len(payload)) + payload)


def _broker_read(sock, size: int) -> Optional[bytes]:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _broker_stdin(sock) -> None:
    """Forward a piped or redirected stdin (never a terminal's) and then its end."""
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
        forward = stat.S_ISFIFO(mode) or stat.S_ISREG(mode)
    except (OSError, ValueError, AttributeError):
        forward = False
    try:
        while forward:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                break
            _broker_frame(sock, b"0", chunk)
        _broker_frame(sock, b"e")
    except OSError:
        pass


def broker_main(argv: Sequence[str], socket_path: str) -> int:
    import socket
    import struct
    import threading

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError as exc:
        print("targetctl: cannot reach the incident's broker at %s (%s); the runner that started "
              "this terminal has ended or is not running a broker" % (socket_path, exc), file=sys.stderr)
        return 2
    try:
        _broker_frame(sock, b"r", json.dumps({"argv": list(argv)}).encode("utf-8"))
        threading.Thread(target=_broker_stdin, args=(sock,), daemon=True).start()
        outputs = {b"1": sys.stdout, b"2": sys.stderr}
        while True:
            header = _broker_read(sock, 5)
            if header is None:
                print("targetctl: the incident's broker closed the connection", file=sys.stderr)
                return 1
            kind, size = struct.unpack(">cI", header)
            payload = _broker_read(sock, size) if size else b""
            if payload is None:
                return 1
            if kind == b"x":
                return int(payload.decode("ascii"))
            stream = outputs.get(kind)
            if stream is not None:
                stream.flush()
                stream.buffer.write(payload)
                stream.buffer.flush()
    except KeyboardInterrupt:
        return 130
    finally:
        sock.close()


# --- shim ------------------------------------------------------------------------------------

def write_shim(bin_dir: Path, env: Optional[Dict[str, str]] = None) -> Path:
    """Write an executable `targetctl` into bin_dir that runs this file with this python.

    With `env` (usually Target.control_env()), the TARGETCTL_* values are baked into the shim so
    it works even when the terminal does not inherit them; without it they come from the caller's
    environment at run time.
    """
    lines = ["#!/bin/sh", "# targetctl shim (generated by openhands_driver.targetctl.write_shim)"]
    if env is not None:
        for name in REQUIRED_ENV:
            if not env.get(name):
                raise ValueError("write_shim: env is missing %s (pass Target.control_env())" % name)
        for name, value in sorted(env.items()):
            if not name.replace("_", "").isalnum():
                raise ValueError("write_shim: invalid environment variable name %r" % name)
            lines.append("%s=%s; export %s" % (name, shlex.quote(str(value)), name))
    lines.append('exec %s %s "$@"' % (shlex.quote(sys.executable),
                                      shlex.quote(str(Path(__file__).resolve()))))
    bin_dir = Path(bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "targetctl"
    shim.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shim.chmod(0o755)
    return shim


if __name__ == "__main__":
    sys.exit(main())
