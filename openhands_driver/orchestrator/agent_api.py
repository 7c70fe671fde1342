"""A small client for an OpenHands agent server's own APIs: health, bash, file upload.

The orchestrator provisions, inspects and cleans up each incident's target on its worker through
these endpoints only (``POST /api/bash/execute_bash_command``, ``POST /api/file/upload``), with the
worker's session key (``X-Session-API-Key``). No SDK import: plain ``httpx``.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

import httpx

KEY_HEADER = "X-Session-API-Key"


class WorkerUnreachable(RuntimeError):
    """The agent server did not answer (the worker is gone, or its network is)."""


@dataclass(frozen=True)
class BashResult:
    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class AgentServerClient:
    def __init__(self, url: str, api_key: str | None = None, *, timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        headers = {KEY_HEADER: api_key} if api_key else {}
        # trust_env=False: a proxy from the environment must never sit between us and a worker
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s, trust_env=False)

    def health(self) -> str | None:
        """None when ``GET /health`` answers ok, else the reason."""
        try:
            response = self._http.get("/health", timeout=3.0)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if response.status_code == 200 else f"HTTP {response.status_code}"

    def bash(self, command: str, *, timeout_s: float = 60.0, cwd: str | None = None) -> BashResult:
        """Run ``command`` (a shell string the caller built with shlex) on the worker and wait."""
        began = time.monotonic()
        body = {"command": command, "timeout": max(1, int(timeout_s + 0.999)), "cwd": cwd}
        try:
            response = self._http.post("/api/bash/execute_bash_command", json=body, timeout=timeout_s + 15)
        except httpx.HTTPError as exc:
            raise WorkerUnreachable(f"agent server {self.url} did not answer a bash request "
                                    f"({type(exc).__name__}: {exc})") from None
        if response.status_code != 200:
            raise WorkerUnreachable(f"agent server {self.url}: bash request failed with HTTP "
                                    f"{response.status_code}: {response.text[:300]}")
        data = response.json()
        code = data.get("exit_code")
        return BashResult(command, -1 if code is None else int(code), data.get("stdout") or "",
                          data.get("stderr") or "", round(time.monotonic() - began, 3))

    def run(self, argv: list[str], *, timeout_s: float = 60.0, cwd: str | None = None,
            env: dict[str, str] | None = None) -> BashResult:
        """Run an argv list (quoted here, never a caller's shell string) on the worker."""
        prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
        command = shlex.join([*prefix, *argv])
        if cwd:
            command = f"cd {shlex.quote(cwd)} && {command}"
        return self.bash(command, timeout_s=timeout_s)

    def upload(self, path: str, data: bytes) -> None:
        try:
            response = self._http.post("/api/file/upload", params={"path": path},
                                       files={"file": ("upload", data)})
        except httpx.HTTPError as exc:
            raise WorkerUnreachable(f"agent server {self.url}: upload of {path} failed "
                                    f"({type(exc).__name__}: {exc})") from None
        if response.status_code != 200 or not response.json().get("success", False):
            raise WorkerUnreachable(f"agent server {self.url}: upload of {path} failed: "
                                    f"HTTP {response.status_code} {response.text[:300]}")

    def close(self) -> None:
        self._http.close()
