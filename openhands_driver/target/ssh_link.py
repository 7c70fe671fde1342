"""The SSH link of the ssh backend: destination, pre-flight checks, the master connection, errors.

One run = one multiplexed master connection of the system OpenSSH client (``ssh -M -S SOCKET``)
whose remote command is the run's watchdog (``targetctl_ssh.WATCHDOG``); every other command of
the run (upload, targetctl verbs, the proof's snapshots) is a session on that connection, so the
identity file is read once, by ssh, and given to nothing else. The socket lives in the run's
owned 0700 directory on this machine. Closing the master's stdin (cleanup, or this process dying
in any way, SIGKILL included) is the watchdog's signal to stop the service and remove its
directory on the remote host.

User mistakes and unreachable hosts are ``UserError`` (exit 2) with what failed and what to do:
``classify`` turns ssh's own message into one. The identity file's path is never part of a
message, a log line, a trace row or anything sent to the remote host.
"""

from __future__ import annotations

import os
import re
import select
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.targetctl_ssh import CONNECT_TIMEOUT_S, ssh_argv

_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,63}$")
_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
DEST_HINT = "--target-host takes user@host[:port] (IPv6: user@[addr]:port), e.g. deploy@10.0.0.5:2222"


@dataclass(frozen=True)
class Destination:
    """Where the target runs: ``user@host[:port]``."""

    user: str | None
    host: str
    port: int = 22

    @property
    def dest(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def __str__(self) -> str:
        return f"{self.dest}:{self.port}"


def parse_destination(text: str) -> Destination:
    """``user@host[:port]`` -> Destination; UserError naming the expected shape otherwise."""
    if not isinstance(text, str) or not text:
        raise UserError(f"--target-host is empty; {DEST_HINT}")
    user, at, rest = text.rpartition("@")
    port_text = None
    if rest.startswith("["):  # [v6]:port
        host, _, tail = rest[1:].partition("]")
        if tail:
            if not tail.startswith(":"):
                raise UserError(f"--target-host {text!r}: unexpected {tail!r} after ']'; {DEST_HINT}")
            port_text = tail[1:]
        if not re.fullmatch(r"[0-9A-Fa-f:.]+", host or "-"):
            raise UserError(f"--target-host {text!r}: {host!r} is not an IPv6 address; {DEST_HINT}")
    else:
        host, colon, port_text = rest.partition(":")
        port_text = port_text if colon else None
        if not _HOST.match(host):
            raise UserError(f"--target-host {text!r}: {host!r} is not a host name or address; {DEST_HINT}")
    if at and not _USER.match(user):
        raise UserError(f"--target-host {text!r}: {user!r} is not a user name; {DEST_HINT}")
    port = 22
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UserError(f"--target-host {text!r}: port {port_text!r} must be 1-65535; {DEST_HINT}")
        port = int(port_text)
    return Destination(user or None, host, port)


def check_identity_file(path: str | Path) -> str:
    """The identity file is a private key ssh will use without asking anything: a readable regular
    file, not readable by others, loadable without a passphrase (BatchMode cannot ask for one)."""
    hint = "pass --identity-file with the private key (mode 0600) whose public key is authorized on the host"
    path = Path(path).expanduser()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"bad identity file: --identity-file does not exist; {hint}") from None
    except OSError as exc:
        raise UserError(f"bad identity file: --identity-file cannot be read ({exc.strerror}); {hint}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"bad identity file: --identity-file is not a regular file; {hint}")
    if info.st_mode & 0o077:
        raise UserError(f"bad identity file: --identity-file is readable by others (mode "
                        f"{stat.S_IMODE(info.st_mode):04o}) and ssh refuses such keys; chmod 600 it")
    try:
        check = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(path)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=15)
    except FileNotFoundError:
        raise UserError("the OpenSSH client is not installed here (ssh-keygen not found): "
                        "apt-get install openssh-client") from None
    if check.returncode != 0:
        why = ("it needs a passphrase (BatchMode cannot ask for one; use a key without one, or an agent-free "
               "deploy key)" if b"passphrase" in check.stderr else "it is not a private key ssh can load")
        raise UserError(f"bad identity file: --identity-file {why}; {hint}")
    return str(path.resolve())


def check_known_hosts(path: str | Path | None) -> str | None:
    if path is None:
        return None
    path = Path(path).expanduser()
    if not path.is_file() or not os.access(path, os.R_OK):
        raise UserError(f"--known-hosts {path}: no such readable file; write the host's key into it, e.g. "
                        "ssh-keyscan -p PORT HOST >FILE after checking its fingerprint out of band")
    return str(path.resolve())


def classify(stderr: str, destination: Destination, known_hosts: str | None) -> UserError:
    """ssh's exit 255 with its message -> the user's error, with what to do next."""
    where = f"ssh to {destination}"
    kh = f"--known-hosts {known_hosts}" if known_hosts else "your known_hosts (~/.ssh/known_hosts)"
    text = stderr.strip()
    last = text.splitlines()[-1][:300] if text else "no message"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key for" in text and "has changed" in text:
        return UserError(f"host key changed: {where}: the host's key differs from the one in {kh}; this may be "
                         "an attack or a reinstalled host: check its fingerprint out of band, then replace the "
                         "entry (ssh-keygen -R HOST -f FILE)")
    if "Host key verification failed" in text or "host key is known" in text:
        return UserError(f"host key unknown: {where}: {kh} has no key for this host (StrictHostKeyChecking is "
                         "on); add the host's key after checking its fingerprint out of band, e.g. "
                         "ssh-keyscan -p PORT HOST >>FILE")
    if "Permission denied" in text:
        return UserError(f"permission denied: {where}: the host refused the key of --identity-file for this "
                         "user; authorize its public key (ssh-keygen -y -f KEY) in the user's authorized_keys, "
                         "or check the user name")
    if "Load key" in text or "invalid format" in text or "UNPROTECTED PRIVATE KEY" in text:
        return UserError(f"bad identity file: {where}: ssh could not use --identity-file; pass a private key "
                         "without a passphrase, mode 0600")
    for marker in ("Connection refused", "No route to host", "timed out", "Could not resolve hostname",
                   "Network is unreachable", "Connection reset", "Connection closed", "not known"):
        if marker in text:
            return UserError(f"unreachable host: {where}: {last}; check the address and port and that sshd "
                             "runs there")
    return UserError(f"{where} failed (exit 255): {last}")


class MasterConnection:
    """The run's master connection: its remote command is the watchdog; lines in and out."""

    def __init__(self, destination: Destination, *, identity_file: str, known_hosts: str | None,
                 control: str, remote_command: str) -> None:
        self.destination = destination
        self.known_hosts = known_hosts
        self.control = control
        argv = ssh_argv(destination.user, destination.host, destination.port, known_hosts=known_hosts,
                        identity_file=identity_file, control=control, master=True)
        self._stderr: list[bytes] = []
        self.proc = subprocess.Popen(argv + [remote_command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self._reader = threading.Thread(target=self._drain, name="ssh-master-stderr", daemon=True)
        self._reader.start()
        self._buffer = b""

    def _drain(self) -> None:
        stream = self.proc.stderr
        while stream is not None:
            chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                return
            if sum(map(len, self._stderr)) < 65536:
                self._stderr.append(chunk)

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def read_line(self, timeout_s: float) -> str | None:
        """The watchdog's next line; None when the connection ended or nothing came in time."""
        stdout = self.proc.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def failure(self) -> UserError:
        """Why the connection ended (call once it has)."""
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return UserError(f"ssh to {self.destination}: no answer within {CONNECT_TIMEOUT_S + 10}s "
                             "(unreachable host?); check the address and port and that sshd runs there")
        time.sleep(0.05)  # let the stderr reader take the last message
        if self.proc.returncode == 255:
            return classify(self.stderr, self.destination, self.known_hosts)
        return UserError(f"ssh to {self.destination}: the remote side ended (exit {self.proc.returncode}): "
                         f"{self.stderr.strip()[-300:] or 'no message'}; the host needs python3 >= 3.9")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def close(self, timeout_s: float = 15.0) -> bool:
        """End of input for the watchdog (it stops the service and removes its directory), then the
        connection ends. True when it ended by itself within ``timeout_s``."""
        try:
            return self._close(timeout_s)
        finally:
            self._reader.join(timeout=2)
            for stream in (self.proc.stdout, self.proc.stderr):
                try:
                    if stream is not None and not self._reader.is_alive():
                        stream.close()
                except OSError:
                    pass

    def _close(self, timeout_s: float) -> bool:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            pass
        try:
            subprocess.run(ssh_argv(self.destination.user, self.destination.host, self.destination.port,
                                    known_hosts=self.known_hosts, control=self.control)[:-2] +
                           ["-O", "exit", "--", self.destination.host], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=3)
        return False
