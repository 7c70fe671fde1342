"""What the runbook brain reads from tool outputs: JSON bodies, health, a diagnosis saying "absent".

The brain has no fixes of its own (a skill's Remediate section holds them); from each output it only
needs whether a health check passed, the health body's reason when there is one, and whether a
skill's diagnosis reported its fault absent. It knows nothing about which incident is running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


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
