"""Evidence from tool outputs, and the generic fixes an SRE would derive from it.

This is the runbook brain's "general knowledge": it reads what the commands printed (health
reason, listings, configs) and, once the evidence supports one, proposes the smallest fix. It knows
nothing about which scenario is running; it only sees tool output.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_HTTP = re.compile(r"\bHTTP (\d{3})\b")
_LOCK = re.compile(r"stale lock file ((?:[\w.-]+/)*[\w.-]+\.lock)\b")  # never a live owner's lock
_FLAG = re.compile(r"readiness flag (\S+?) (?:is )?missing")
_SETTING = re.compile(r"required setting (\w+) (?:is )?missing")
_LISTEN = re.compile(r'"listen_port"\s*:\s*(\d+)')
_EXPECTED = re.compile(r"expected[ _]?(?:listen[ _])?port\W+(\d+)", re.IGNORECASE)
_ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)


def first_json_object(text: str) -> dict | None:
    """The first JSON object printed in a tool output, if any."""
    start = text.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(text)):
            if text[end] == "{":
                depth += 1
            elif text[end] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start:end + 1])
                    except json.JSONDecodeError:
                        break
                    if isinstance(value, dict):
                        return value
                    break
        start = text.find("{", start + 1)
    return None


def shows_healthy(command: str, output: str, exit_code: int | None) -> bool | None:
    """True/False when this output is a health check result, None when it says nothing."""
    body = first_json_object(output) or {}
    if command.strip().startswith("targetctl status"):
        return exit_code == 0 and body.get("status") == "ok"
    if "healthy" in body and isinstance(body["healthy"], bool):
        return body["healthy"]
    return None


@dataclass
class Findings:
    healthy: bool | None = None
    reason: str = ""
    connection_failed: bool = False
    expected_port: int | None = None
    listen_port: int | None = None
    env_keys: set[str] | None = None
    example_env: dict[str, str] | None = None
    listed: list[str] = field(default_factory=list)  # outputs of `ls` commands
    fault_reported_absent: bool = False

    def update(self, command: str, output: str, exit_code: int | None) -> None:
        cmd = command.strip()
        health = shows_healthy(cmd, output, exit_code)
        if health is not None:
            self.healthy = health
        body = first_json_object(output) or {}
        if body.get("fault_present") is False:
            self.fault_reported_absent = True
        if cmd.startswith("targetctl status"):
            self.reason = str(body.get("reason", "")) or self.reason
            self.connection_failed = "connection failed" in output.lower() or "refused" in output.lower()
        if cmd.startswith("targetctl info"):
            match = _EXPECTED.search(output)
            if match:
                self.expected_port = int(match.group(1))
        if "etc/service.json" in cmd:
            match = _LISTEN.search(output)
            if match:
                self.listen_port = int(match.group(1))
        if cmd.endswith("etc/service.env"):
            self.env_keys = {k for k, _ in _ENV_LINE.findall(output)}
        if cmd.endswith("etc/service.env.example"):
            self.example_env = dict(_ENV_LINE.findall(output))
        if cmd.startswith("targetctl exec ls"):
            self.listed.append(cmd + "\n" + output)

    def _listing_mentions(self, directory: str) -> list[str]:
        return [text for text in self.listed if directory in text.splitlines()[0]]

    def generic_fix(self) -> tuple[list[str], str] | None:
        """(commands, why) once the evidence supports a fix; None while it does not."""
        lock = _LOCK.search(self.reason)
        if lock:
            path = lock.group(1)
            directory, _, name = path.rpartition("/")
            if any(name in text for text in self._listing_mentions(directory or ".")):
                return [f"targetctl exec rm -f {path}"], f"stale lock {path} confirmed by listing"
        flag = _FLAG.search(self.reason)
        if flag:
            path = flag.group(1)
            directory, _, name = path.rpartition("/")
            listings = self._listing_mentions(directory or ".")
            if listings and not any(re.search(rf"\s{re.escape(name)}$", t, re.M) for t in listings):
                return [f"targetctl exec touch {path}"], f"readiness flag {path} confirmed absent"
        setting = _SETTING.search(self.reason)
        if setting and self.example_env is not None and setting.group(1) in self.example_env:
            key = setting.group(1)
            line = f"{key}={self.example_env[key]}"
            return ([f"targetctl exec sh -c 'grep \"^{key}=\" etc/service.env.example >> etc/service.env'",
                     "targetctl restart"], f"{line} documented in the example, missing from the config")
        if (self.connection_failed and self.expected_port and self.listen_port
                and self.expected_port != self.listen_port):
            sed = (f"targetctl exec sed -i -E 's/\"listen_port\": *{self.listen_port}/"
                   f"\"listen_port\": {self.expected_port}/' etc/service.json")
            return [sed, "targetctl restart"], (
                f"service listens on {self.listen_port}, probe expects {self.expected_port}")
        return None
