"""The bubblewrap command lines: the agent terminal's sandbox and `targetctl exec`'s sandbox.

Both share one base (:func:`base_args`): new user, PID, network, IPC and UTS namespaces, no
capabilities, killed with their parent; the host filesystem is absent except read-only system dirs
(``/usr``, the ``/bin``/``/lib*`` links, a few ``/etc`` files that sh, python3 and coreutils read)
and, when there is no system ``python3``, the runner's interpreter install (read-only); a private
``/proc``, ``/dev`` and ``/tmp``. Each sandbox then adds its own writable binds (always at the same
path as on the host, so paths in messages and traces mean the same thing inside and out):

- terminal: the incident workspace and the local target's service root, the tools dir (targetctl,
  inputrc) read-only at ``/opt/sre``, the broker's socket at ``/run/sre/targetctl.sock``;
- exec: the service root only, as the working directory.

No environment crosses: ``--clearenv``, then only the variables the caller names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

INSTALL_HINT = "apt-get install bubblewrap"
TOOLS_MOUNT = "/opt/sre"                      # read-only: bin/targetctl, openhands_driver/targetctl*.py
BROKER_MOUNT = "/run/sre/targetctl.sock"      # the narrow channel to the runner's broker
SANDBOX_PATH = f"{TOOLS_MOUNT}/bin:/usr/local/bin:/usr/bin:/bin"
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf",
             "localtime", "alternatives")
NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@lru_cache(maxsize=1)
def system_python() -> tuple[str, tuple[str, ...]]:
    """(python3 as seen inside, extra read-only dirs it needs). The system python3 when there is
    one; else the runner's own interpreter install, bound read-only at its own path."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate, ()
    prefix = str(Path(sys.base_prefix).resolve())
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return f"{prefix}/bin/{version}", (prefix,)


def base_args() -> list[str]:
    """Namespaces, capabilities and the read-only system view shared by every sandbox."""
    args = [*NAMESPACES, "--die-with-parent", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr"]
    for link in ROOT_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for name in ETC_FILES:
        if os.path.lexists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for extra in system_python()[1]:
        args += ["--ro-bind", extra, extra]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    return args


def env_args(env: dict[str, str]) -> list[str]:
    args = ["--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return args


def terminal_argv(*, writable: list[str], tools_dir: Path, broker_socket: Path, workspace: Path,
                  env: dict[str, str]) -> list[str]:
    """bwrap argv (up to, not including, the shell) for the agent's terminal.

    ``--new-session`` detaches the sandbox from the runner's session; the shell is then started
    with :func:`shell_argv`, which makes the SDK's PTY its controlling terminal again (the SDK
    interrupts commands with Ctrl-C). That PTY belongs to the runner, so nothing typed into it
    (TIOCSTI) reaches a host shell.
    """
    args = [bwrap_path() or "bwrap", *base_args(), "--new-session", "--ro-bind", str(tools_dir), TOOLS_MOUNT,
            "--bind", str(broker_socket), BROKER_MOUNT]
    for path in writable:
        args += ["--bind", path, path]
    return [*args, "--chdir", str(workspace), *env_args(env)]


def shell_argv(shell: str) -> list[str]:
    """The terminal's shell inside the sandbox, as leader of a session whose controlling terminal
    is its stdin (the SDK's PTY): without it Ctrl-C cannot interrupt a command."""
    setsid = shutil.which("setsid", path="/usr/bin:/bin")
    if not setsid:
        return [shell]
    # Only a terminal can become the controlling terminal (`launcher -c CMD` from a pipe is fine).
    script = f'if [ -t 0 ]; then exec {setsid} -w -c "$0" "$@"; else exec "$0" "$@"; fi'
    return ["/bin/sh", "-c", script, shell]


def exec_argv(*, root: str, tools_dir: Path, env: dict[str, str]) -> list[str]:
    """bwrap argv for `targetctl exec` on a local target: the service root is the only writable
    bind and the working directory; own session (no terminal to inject into)."""
    return [bwrap_path() or "bwrap", *base_args(), "--new-session",
            "--ro-bind", str(tools_dir), TOOLS_MOUNT, "--bind", root, root, "--chdir", root,
            *env_args(env)]


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why bwrap cannot build the sandbox here (None when it can): missing, or no user/network/PID
    namespaces (e.g. a container without the privilege, or user namespaces disabled)."""
    binary = bwrap_path()
    if binary is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [binary, *base_args(), "--", "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run ({exc})"
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return f"bwrap cannot create user/network/PID namespaces here ({detail[0]})"
    return None
