"""Runbook lines of the API dialect (``api`` blocks, for ``--toolset api``) -> tool calls.

A line is one of:
    GET /ops/path                  call_ops_endpoint, method GET
    POST /ops/path {json}          call_ops_endpoint, method POST with that body
    TOOL name {json}               any other tool with those arguments
    require PATH [== | != VALUE]   a check on what was read (diagnosis only): when it fails, the
                                   runbook's fault is absent
    report CLASS TEMPLATE          the diagnosis the runbook names (fault class and entity)
``{{a.b.0.c}}`` in a line is replaced by that field of the newest tool output (its first JSON
object) that has it. The brain reads these like it reads shell commands: text it was given.
"""

from __future__ import annotations

import json
import re

from openhands_driver.brain.findings import first_json_object

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_MISSING = object()


def lookup(data, path: str):
    """``a.b.0.c`` in nested dicts/lists, or _MISSING."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def find(path: str, outputs: list[str]):
    """The value at ``path`` in the newest output that has it (None when none has it)."""
    for output in reversed(outputs):
        value = lookup(first_json_object(output) or {}, path)
        if value is not _MISSING:
            return value
    return None


def resolve(line: str, outputs: list[str]) -> str | None:
    """The line with every placeholder filled in; None when one cannot be."""
    missing = []

    def fill(match: re.Match) -> str:
        value = find(match.group(1), outputs)
        if value is None:
            missing.append(match.group(1))
            return ""
        return value if isinstance(value, str) else json.dumps(value)

    filled = PLACEHOLDER.sub(fill, line)
    return None if missing else filled


def is_directive(line: str) -> bool:
    return line.split(" ", 1)[0] in ("require", "report")


def check(line: str, outputs: list[str]) -> bool:
    """``require PATH``: present and truthy; ``require PATH == VALUE`` / ``!= VALUE`` (JSON literal)."""
    parts = line.split(None, 3)
    value = find(parts[1], outputs) if len(parts) > 1 else None
    if len(parts) < 4:
        return bool(value)
    try:
        expected = json.loads(parts[3])
    except ValueError:
        expected = parts[3]
    return (value == expected) if parts[2] == "==" else (value != expected)


def report(line: str, outputs: list[str]) -> dict | None:
    """``report CLASS TEMPLATE`` -> {fault_class, entity, evidence}."""
    parts = line.split(None, 2)
    if len(parts) < 3:
        return None
    entity = resolve(parts[2], outputs)
    if entity is None:
        return None
    lines = [line.strip().strip('",') for output in outputs for line in output.splitlines()
             if entity and entity in line]
    logged = [line for line in lines if re.search(r" (ERROR|WARNING|INFO) ", line)]
    evidence = (logged or lines)[:3]
    return {"fault_class": parts[1], "entity": entity, "evidence": evidence}


def to_call(line: str) -> tuple[str, dict]:
    """(tool name, arguments) of a GET / POST / TOOL line."""
    verb, _, rest = line.strip().partition(" ")
    rest = rest.strip()
    if verb in ("GET", "POST"):
        path, _, body = rest.partition(" ")
        arguments = {"method": verb, "path": path}
        if verb == "POST":
            arguments["body"] = json.loads(body) if body.strip() else {}
        return "call_ops_endpoint", arguments
    if verb == "TOOL":
        name, _, body = rest.partition(" ")
        return name, (json.loads(body) if body.strip() else {})
    raise ValueError(f"not an API runbook line: {line!r} (GET, POST, TOOL, require or report)")


def exit_code(text: str) -> int | None:
    """0/1 for an API tool's output (``HTTP 2xx`` -> 0; another status or a refusal -> 1)."""
    match = re.search(r"^\s*HTTP (\d{3})", text, re.MULTILINE)
    if match:
        return 0 if match.group(1).startswith("2") else 1
    if re.search(r"^\s*(REFUSED|NOT SENT|connection failed|tool failed)", text, re.MULTILINE):
        return 1
    return None
