"""The targetctl broker: the one channel from the sandboxed terminal to the incident's target.

The sandbox has no network and no view of the target's processes, so `targetctl` inside it
(``TARGETCTL_BROKER`` set) sends its argv over a unix socket bound into the sandbox; the broker,
run by the runner outside, executes it for *this* incident's target only and streams back the
exact stdout, stderr and exit code. What it runs is fixed here, never chosen by the client:

- ``info``, ``status``, ``logs``, ``restart`` (and docker ``exec``): ``targetctl.py`` itself with
  the target's own ``Target.control_env()`` (the client's environment is never used), so output and
  exit codes are those of targetctl (status probes ``target.url`` from the host);
- local ``exec``: ``targetctl.py exec`` inside a second bwrap sandbox whose only writable bind is
  the service root (its cwd), no network, own PID namespace;
- anything else: refused, nothing runs.

Wire format (both directions): frames of ``kind`` (1 byte) + length (4 bytes, big endian) + payload.
Client -> broker: ``r`` request (JSON ``{"argv": [...]}``), ``0`` stdin bytes, ``e`` stdin closed.
Broker -> client: ``1`` stdout bytes, ``2`` stderr bytes, ``x`` exit code (ASCII). A client that
goes away (Ctrl-C, timeout) takes its command down with it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

HEADER = struct.Struct(">cI")
MAX_REQUEST = 1 << 20
VERBS = ("info", "status", "logs", "restart", "exec")
TARGETCTL_PY = Path(__file__).resolve().parents[1] / "targetctl.py"

# argv -> (command, env) for one accepted request
Planner = Callable[[list[str]], tuple[list[str], dict[str, str]]]


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(HEADER.pack(kind, len(payload)) + payload)


def recv_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    header = recv_exact(sock, HEADER.size)
    if header is None:
        return None
    kind, size = HEADER.unpack(header)
    if size > MAX_REQUEST:
        return None
    payload = recv_exact(sock, size) if size else b""
    return None if payload is None else (kind, payload)


def accepted(argv: object) -> bool:
    """Only targetctl's verbs cross the channel (help and usage errors are answered inside)."""
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        return False
    return bool(argv) and argv[0] in VERBS


class Broker:
    """A unix-socket server (one thread per request) that runs targetctl verbs via ``planner``."""

    def __init__(self, socket_path: Path, planner: Planner) -> None:
        self.socket_path = Path(socket_path)
        self.planner = planner
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        self._server.listen(16)
        self._closed = threading.Event()
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="targetctl-broker", daemon=True)

    def start(self) -> "Broker":
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, kill what still runs, remove the socket. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            _kill(proc)
        self._thread.join(timeout=2)
        try:
            self.socket_path.unlink()
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), name="targetctl-request",
                             daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._run(conn)
            except OSError:  # the client went away: its command was killed in _run
                pass

    def _run(self, conn: socket.socket) -> None:
        frame = recv_frame(conn)
        try:
            argv = json.loads(frame[1]).get("argv") if frame and frame[0] == b"r" else None
        except (ValueError, AttributeError):
            argv = None
        if not accepted(argv):
            send_frame(conn, b"2", ("targetctl: the incident broker accepts only: %s\n"
                                    % ", ".join(VERBS)).encode())
            send_frame(conn, b"x", b"2")
            return
        try:
            command, env = self.planner(argv)
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except (OSError, ValueError) as exc:  # e.g. bwrap gone since the run started
            send_frame(conn, b"2", f"targetctl: the incident broker could not run it: {exc}\n".encode())
            send_frame(conn, b"x", b"1")
            return
        with self._lock:
            self._procs.add(proc)
        send_lock = threading.Lock()

        def pump(stream, kind: bytes) -> None:
            fd = stream.fileno()
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return
                try:
                    with send_lock:
                        send_frame(conn, kind, chunk)
                except OSError:
                    _kill(proc)
                    return

        pumps = [threading.Thread(target=pump, args=(proc.stdout, b"1"), daemon=True),
                 threading.Thread(target=pump, args=(proc.stderr, b"2"), daemon=True)]
        for thread in pumps:
            thread.start()
        threading.Thread(target=self._feed_stdin, args=(conn, proc), daemon=True).start()
        try:
            code = proc.wait()
            for thread in pumps:
                thread.join()
            with send_lock:
                send_frame(conn, b"x", str(code).encode())
        finally:
            with self._lock:
                self._procs.discard(proc)
            for stream in (proc.stdout, proc.stderr):
                stream.close()

    @staticmethod
    def _feed_stdin(conn: socket.socket, proc: subprocess.Popen) -> None:
        """Client stdin -> the command; the client hanging up kills the command."""
        stdin_open = True
        while True:
            try:
                frame = recv_frame(conn)
            except OSError:
                frame = None
            if frame is None:  # the client is gone (Ctrl-C, terminal timeout)
                if proc.poll() is None:
                    _kill(proc)
                break
            kind, payload = frame
            if not stdin_open:
                continue
            try:
                if kind == b"0":
                    proc.stdin.write(payload)
                    proc.stdin.flush()
                elif kind == b"e":
                    stdin_open = False
                    proc.stdin.close()
            except (OSError, ValueError):  # the command closed its stdin
                stdin_open = False
        if stdin_open:
            try:
                proc.stdin.close()
            except OSError:
                pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def host_command(argv: list[str]) -> list[str]:
    """targetctl.py run on the host by the broker's own interpreter."""
    return [sys.executable, "-E", "-s", str(TARGETCTL_PY), *argv]
