"""targetctl's Docker Engine API client (stdlib only, py>=3.9): run a command in a container.

targetctl often runs under a system python3 without the docker SDK, so it speaks the Engine API
itself (unix socket or plain tcp). This module is self-contained on purpose: targetctl.py imports
it lazily from its own directory (as ``targetctl_docker`` when run as a script, as
``openhands_driver.targetctl_docker`` from the package), and only for the docker backend, so
targetctl's source still runs alone inside a container. Errors are ``EngineError`` (message +
exit code); targetctl reports them like its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

ENV_CONTAINER = "TARGETCTL_CONTAINER"  # targetctl's name for the container variable (messages)
ENGINE_HINT = 'start or find one with: eval "$(scripts/docker_engine.sh up)"'
POLL_S = 0.02


class EngineError(Exception):
    """A user-fixable Docker problem: targetctl prints it without a traceback, exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class DockerEngine:
    """Just enough of the Docker Engine API for targetctl: run a command in a container."""

    def __init__(self, host: str) -> None:
        self.host = host

    def _connect(self, timeout: Optional[float]) -> "http.client.HTTPConnection":
        import http.client
        import socket
        from urllib.parse import urlsplit

        if self.host.startswith("unix://"):
            path = self.host[len("unix://"):]

            class UnixConnection(http.client.HTTPConnection):
                def connect(self) -> None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    sock.settimeout(self.timeout)
                    try:
                        sock.connect(path)
                    except OSError:
                        sock.close()
                        raise
                    self.sock = sock

            return UnixConnection("localhost", timeout=timeout)
        if self.host.startswith(("tcp://", "http://")) and not os.environ.get("DOCKER_TLS_VERIFY"):
            parts = urlsplit(self.host)
            return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 2375,
                                              timeout=timeout)
        raise EngineError("DOCKER_HOST=%s is not supported by targetctl (unix:// or tcp:// "
                          "without TLS)" % self.host)

    def _send(self, method: str, path: str, body: Optional[dict], timeout: Optional[float]):
        conn = self._connect(timeout)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Content-Type": "application/json"})
            return conn, conn.getresponse()
        except OSError as exc:
            conn.close()
            raise EngineError("cannot reach the Docker engine at DOCKER_HOST=%s (%s); %s"
                              % (self.host, exc, ENGINE_HINT))

    def call(self, method: str, path: str, body: Optional[dict] = None) -> Tuple[int, dict]:
        conn, resp = self._send(method, path, body, 30.0)
        try:
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data.decode("utf-8") or "{}")
        except ValueError:
            return resp.status, {"message": data.decode("utf-8", "replace").strip()}

    def exec(self, container: str, argv: List[str], workdir: str = "/",
             env: Optional[Dict[str, str]] = None) -> int:
        """Run argv in the container (no stdin, no tty), stream its output; return its exit code."""
        from urllib.parse import quote

        status, data = self.call("POST", "/containers/%s/exec" % quote(container, safe=""), {
            "AttachStdin": False, "AttachStdout": True, "AttachStderr": True, "Tty": False,
            "Cmd": argv, "WorkingDir": workdir,
            "Env": ["%s=%s" % item for item in sorted((env or {}).items())]})
        if status == 404:
            raise EngineError("container %s does not exist (%s); the incident's target is gone"
                              % (container, ENV_CONTAINER), 1)
        if status == 409:
            raise EngineError("container %s is not running: %s" % (container, data.get("message")), 1)
        if status != 201:
            raise EngineError("docker exec in %s failed: HTTP %d %s"
                              % (container, status, data.get("message")), 1)
        exec_id = data["Id"]
        conn, resp = self._send("POST", "/exec/%s/start" % exec_id,
                                {"Detach": False, "Tty": False}, None)
        try:
            if resp.status != 200:
                raise EngineError("docker exec start in %s failed: HTTP %d %s" % (
                    container, resp.status, resp.read().decode("utf-8", "replace").strip()), 1)
            _demux(resp)
        finally:
            conn.close()
        deadline = time.monotonic() + 5.0
        while True:
            status, info = self.call("GET", "/exec/%s/json" % exec_id)
            if not info.get("Running") or time.monotonic() > deadline:
                code = info.get("ExitCode")
                return code if isinstance(code, int) else 1
            time.sleep(POLL_S)


def _demux(resp) -> None:
    """Copy Docker's multiplexed stream (8-byte frame headers) to our stdout / stderr."""
    outs = {1: sys.stdout, 2: sys.stderr}
    while True:
        header = _read_exact(resp, 8)
        if len(header) < 8:
            return
        size = int.from_bytes(header[4:8], "big")
        out = outs.get(header[0], sys.stdout)
        payload = _read_exact(resp, size)
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            out.flush()
            buffer.write(payload)
            buffer.flush()
        else:
            out.write(payload.decode("utf-8", "replace"))


def _read_exact(resp, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = resp.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
