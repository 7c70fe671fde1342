"""targetctl over SSH (stdlib only, py>=3.9): the system OpenSSH client on this side, a small entry
point on the remote host.

This side (``ssh_argv``, ``SshError``, ``ssh_backend``): every command is the system ``ssh`` run as
an argv list, host-key checking on (``StrictHostKeyChecking=yes``, the given known_hosts or the
user's default), ``BatchMode=yes``, no agent, no forwarding. targetctl itself never sees an
identity file: it goes through the run's multiplexed master connection (``TARGETCTL_SSH_CONTROL``,
a socket in a 0700 directory of the runner), which ``openhands_driver/target/ssh.py`` opened.

The remote side is this file copied to ``<dir>/tools/`` on the remote host, run there as a script:

- ``serve <payload>``: runs one targetctl verb (logs, restart, exec) with the local backend
  against the remote service root. The payload is base64 of JSON ``{"argv", "root", "port"}``,
  so the command line ssh hands the remote shell is our own path plus a base64 token: no argument
  the agent or a user chose is ever parsed by a shell; stdin/stdout/stderr pass straight through.
- ``host``: the run's watchdog (the master connection's own command, see ``WATCHDOG``): provisions
  the target, starts the supervisor as its child (``--owner-pid``: the service dies with the
  connection), reports, then waits for end of input; at end of input (the runner closed it, or
  died, or the connection dropped) it stops the service and removes the remote directory.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

ENV_DEST = "TARGETCTL_SSH_DEST"           # user@host (the host as given, no port)
ENV_PORT = "TARGETCTL_SSH_PORT"
ENV_CONTROL = "TARGETCTL_SSH_CONTROL"     # the master connection's control socket (local path)
ENV_KNOWN_HOSTS = "TARGETCTL_SSH_KNOWN_HOSTS"  # empty: the user's default known_hosts
ENV_DIR = "TARGETCTL_SSH_DIR"             # the run's directory on the remote host
ENV_PYTHON = "TARGETCTL_SSH_PYTHON"       # python3 on the remote host
SSH = "ssh"
CONNECT_TIMEOUT_S = 10

# The master connection's command (constant text, run by the remote python3 with argv [dir]):
# make the run's directory, say so, then hand over to this file's `host` once it was uploaded.
WATCHDOG = ("import os, sys, shutil, socket; d = sys.argv[1]; os.makedirs(d, 0o700); "
            "print('ready', os.getpid(), socket.gethostname(), flush=True); line = sys.stdin.readline(); "
            "sys.argv = [d + '/tools/targetctl_ssh.py', 'host', d, line.strip()] if line.strip() else []\n"
            "if not sys.argv: shutil.rmtree(d, ignore_errors=True); sys.exit(0)\n"
            "sys.path.insert(0, d + '/tools'); import targetctl_ssh; sys.exit(targetctl_ssh.remote_main(sys.argv[1:]))")


class SshError(Exception):
    """A user-fixable SSH problem (message says what and what to do), exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --- this side: the ssh argv -------------------------------------------------------------------

def ssh_argv(user: Optional[str], host: str, port: int, *, known_hosts: Optional[str] = None,
             identity_file: Optional[str] = None, control: Optional[str] = None,
             master: bool = False) -> List[str]:
    """argv of the system ssh up to (and including) the destination; append the remote command.
    Host-key checking is always on; with `control` the connection goes through (or, with `master`,
    opens) the multiplexed connection at that socket."""
    argv = [SSH, "-T", "-x", "-a",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
            "-o", "ConnectTimeout=%d" % CONNECT_TIMEOUT_S, "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR", "-o", "IdentityAgent=none",
            "-o", "ClearAllForwardings=yes", "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no", "-p", str(int(port))]
    if known_hosts:
        argv += ["-o", "UserKnownHostsFile=" + known_hosts, "-o", "GlobalKnownHostsFile=/dev/null"]
    if identity_file:
        argv += ["-o", "IdentitiesOnly=yes", "-i", identity_file]
    if control:
        argv += ["-S", control] + (["-M", "-o", "ControlPersist=no"] if master
                                   else ["-o", "ControlMaster=no"])
    if user:
        argv += ["-l", user]
    return argv + ["--", host]


def remote_command(argv: Sequence[str]) -> str:
    """The one string ssh hands the remote shell: only our own paths and base64 tokens, quoted."""
    return " ".join(shlex.quote(part) for part in argv)


def encode(payload: Dict[str, object]) -> str:
    return base64.b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")


def decode(token: str) -> Dict[str, object]:
    return json.loads(base64.b64decode(token.encode("ascii")).decode("utf-8"))


def serve_command(python: str, remote_dir: str, payload: Dict[str, object]) -> str:
    return remote_command([python, remote_dir + "/tools/targetctl_ssh.py", "serve", encode(payload)])


def ssh_backend(command: str, args, env: Dict[str, str], expected_port: str, root: str) -> int:
    """targetctl logs / restart / exec on the remote host, through the run's master connection."""
    dest, control, remote_dir = env.get(ENV_DEST, ""), env.get(ENV_CONTROL, ""), env.get(ENV_DIR, "")
    if not (dest and control and remote_dir):
        raise SshError("environment variables %s, %s and %s must be set for the ssh backend (they come "
                       "from Target.control_env())" % (ENV_DEST, ENV_CONTROL, ENV_DIR))
    if not os.path.exists(control):
        raise SshError("the run's SSH connection is closed (no control socket %s): the run that "
                       "opened it has ended" % control, 1)
    user, _, host = dest.rpartition("@")
    if command == "exec":
        inner = ["exec", "--"] + list(args.argv)
    elif command == "logs":
        inner = ["logs", "-n", str(args.lines)]
    else:
        inner = ["restart", "--timeout", str(args.timeout)]
    argv = ssh_argv(user or None, host, int(env.get(ENV_PORT) or 22), known_hosts=env.get(ENV_KNOWN_HOSTS) or None,
                    control=control)
    argv.append(serve_command(env.get(ENV_PYTHON) or "python3", remote_dir,
                              {"argv": inner, "root": root, "port": expected_port}))
    try:
        code = subprocess.call(argv)
    except FileNotFoundError:
        raise SshError("the OpenSSH client (ssh) is not installed here: apt-get install openssh-client", 2)
    if code == 255:
        raise SshError("ssh to %s failed (exit 255; see the message above)" % dest, 1)
    return code


# --- the remote side ---------------------------------------------------------------------------

def _serve(token: str) -> int:
    """Run one targetctl verb with the local backend on the remote service root."""
    request = decode(token)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import targetctl  # the copy next to this file

    root, port = str(request["root"]), str(request["port"])
    env = dict(os.environ)
    env.update({targetctl.ENV_BACKEND: "local", targetctl.ENV_ROOT: root,
                targetctl.ENV_EXPECTED_PORT: port, targetctl.ENV_URL: "http://127.0.0.1:%s/" % port})
    os.chdir(root)
    return targetctl.main([str(a) for a in request["argv"]], env)  # type: ignore[union-attr]


def _free_ports(count: int) -> List[int]:
    import socket

    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("0.0.0.0", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _stop(remote_dir: str, proc: Optional["subprocess.Popen[bytes]"]) -> None:
    import shutil
    import signal
    import time

    if proc is not None:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            deadline = time.monotonic() + grace
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
    shutil.rmtree(remote_dir, ignore_errors=True)


def _host(remote_dir: str, token: str) -> int:
    """Provision, start the supervisor as our child, report one JSON line, then wait for end of
    input and clean up (whatever happened to the runner)."""
    import signal

    spec = decode(token)
    app, root = remote_dir + "/app", remote_dir + "/root"
    sys.path.insert(0, remote_dir + "/tools")
    import targetctl

    proc = None
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped connection shows as end of input
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    try:
        port, wrong = _free_ports(2)
        provision = remote_dir + "/provision.json"
        with open(provision, "w", encoding="utf-8") as handle:
            json.dump(spec["provision"], handle)
        os.makedirs(root + "/var/log", exist_ok=True)
        inject = subprocess.run([sys.executable, app + "/faults.py", "--root", root, "--provision-file", provision,
                                 "--port", str(port), "--wrong-port", str(wrong), "--host", "0.0.0.0"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if os.path.exists(provision):
            os.unlink(provision)  # read once: nothing the agent can read names the fault
        if inject.returncode != 0:
            print(json.dumps({"error": "fault injection failed: %s" % inject.stderr.decode("utf-8", "replace")[-800:]}),
                  flush=True)
            return 1
        with open(root + "/" + targetctl.LOG_FILE, "ab") as log:
            proc = subprocess.Popen([sys.executable, app + "/supervisor.py", "--root", root,
                                     "--owner-pid", str(os.getpid())], cwd=root, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
        timeout = float(spec.get("timeout_s") or 20)  # type: ignore[arg-type]
        if spec.get("wait") == "supervisor":
            up = targetctl.wait_for_supervisor(targetctl.Path(root), timeout, supervisor_pid=proc.pid) is not None
        else:
            up = targetctl.wait_for_app(targetctl.Path(root), None, timeout, supervisor_pid=proc.pid) is not None
        print(json.dumps({"port": port, "wrong_port": wrong, "supervisor_pid": proc.pid, "up": up,
                          "root": root}), flush=True)
        while sys.stdin.readline():
            pass
        return 0
    finally:
        _stop(remote_dir, proc)


def remote_main(argv: Sequence[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 2:
        return _serve(argv[1])
    if argv[:1] == ["host"] and len(argv) == 3:
        return _host(argv[1], argv[2])
    print("targetctl_ssh: usage: serve PAYLOAD | host DIR PAYLOAD", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(remote_main(sys.argv[1:]))
