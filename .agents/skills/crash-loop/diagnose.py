#!/usr/bin/env python3
"""Diagnose a changed start command (the entrypoint vs its packaged copy); JSON on stdout.

Finds the entrypoint from etc/service.json, its packaged copy (named in the entrypoint's header,
else beside it as .default/.dist/.orig), diffs the lines that run, and collects the crash, the
rejected argument or the init step still waiting from the log. Hooks in the hooks dir are
reported, never touched. Acts only through `targetctl` (list arguments, never a shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.targetctl import safe, targetctl  # noqa: E402

SERVICE_JSON = "etc/service.json"
DEFAULT_ENTRYPOINT = "etc/entrypoint.sh"
PACKAGED_HEADER = re.compile(r"^#.*[Pp]ackaged copy:\s*(\S+)")
HOOKS_LOOP = re.compile(r"^for \w+ in (\S+)/\*\.sh")
EVIDENCE = re.compile(r"entrypoint: init step|unrecognized arguments|not listening .* after start|"
                      r"exited with code \d+|Traceback|Error:|not found|cannot stat")


def read(rel: str):
    shown = targetctl("exec", "cat", rel)
    return shown.stdout if shown.returncode == 0 else None


def significant(text) -> list:
    return [" ".join(line.split()) for line in (text or "").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def diagnose() -> dict:
    health = targetctl("status")
    out = {"check": "start-command", "healthy": health.returncode == 0, "health": health.stdout.strip()[-300:]}
    try:
        config = json.loads(read(SERVICE_JSON) or "{}")
    except ValueError:
        config = {}
    entrypoint = config.get("entrypoint") or DEFAULT_ENTRYPOINT
    if not safe(entrypoint):
        return {**out, "error": "unsafe entrypoint path in %s" % SERVICE_JSON, "fault_present": False}
    current = read(entrypoint)
    candidates = []
    for line in (current or "").splitlines():
        match = PACKAGED_HEADER.match(line.strip())
        if match and safe(match.group(1)):
            candidates.append(match.group(1))
    candidates += [entrypoint + suffix for suffix in (".default", ".dist", ".orig")]
    packaged, packaged_text = None, None
    for rel in candidates:
        text = read(rel)
        if text is not None and rel != entrypoint:
            packaged, packaged_text = rel, text
            break
    run_now, run_packaged = significant(current), significant(packaged_text)
    added = [line for line in run_now if line not in run_packaged]
    removed = [line for line in run_packaged if line not in run_now]
    hooks_dir = next((m.group(1) for m in map(HOOKS_LOOP.match, run_now) if m), None)
    hooks = []
    if hooks_dir and safe(hooks_dir):
        hooks = ["%s/%s" % (hooks_dir, n) for n in targetctl("exec", "ls", "-1", hooks_dir).stdout.split()
                 if n.endswith(".sh")]
    log = targetctl("logs", "-n", "200").stdout.splitlines()
    evidence = [line.strip() for line in log if EVIDENCE.search(line)][-4:]
    changed = current is not None and packaged is not None and run_now != run_packaged
    present = health.returncode != 0 and changed
    out.update({"entrypoint": entrypoint, "packaged_copy": packaged, "entrypoint_changed": changed,
                "added_lines": added, "removed_lines": removed, "hooks_kept": hooks,
                "log_lines": evidence, "fault_present": present})
    if present:
        out["diagnosis"] = {"fault_class": "crash_loop", "entity": entrypoint,
                            "evidence": evidence[-2:] + ["%s runs lines not in its packaged copy %s: %s"
                                                         % (entrypoint, packaged, added or removed)]}
    return out


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
