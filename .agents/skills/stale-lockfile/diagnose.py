#!/usr/bin/env python3
"""Diagnose a lock file left behind by a dead process on this incident's target (JSON on stdout).

Searches: the lock the service takes (`lock_file` in etc/service.json), the locks its log says it
cannot acquire, and the other *.lock files beside them; reads each owner pid and whether that pid
runs in the target's context. Only a lock that blocks the service and whose owner is dead is the
cause; a lock held by a live process (e.g. the supervisor's own) is reported and never touched.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import posixpath
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import targetctl  # noqa: E402

CLASS_ID = "stale_lockfile"
DEFAULT_LOCK = "var/lock/service.lock"
LOCK_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.lock$")
BLOCKED = re.compile(r"cannot acquire lock (\S+): already held by pid (\d+)")


def safe_rel(path: str) -> bool:
    return bool(path) and not path.startswith("/") and ".." not in path.split("/")


def owner_alive(pid: int) -> bool:
    """Whether `pid` runs in the target's context (its own pid namespace in a container)."""
    return targetctl("exec", "test", "-d", f"/proc/{pid}").returncode == 0


def read_config() -> dict:
    try:
        data = json.loads(targetctl("exec", "cat", "etc/service.json").stdout)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def inspect_lock(path: str) -> dict | None:
    done = targetctl("exec", "cat", "--", path)
    if done.returncode != 0:
        return None
    match = re.search(r"\d+", done.stdout)
    pid = int(match.group()) if match else None
    alive = owner_alive(pid) if pid else False
    return {"path": path, "owner_pid": pid, "owner_alive": alive, "stale": not alive}


def diagnose() -> dict:
    health = targetctl("status")
    config = read_config()
    logs = targetctl("logs", "-n", "200").stdout.splitlines()
    blocking = [config.get("lock_file") if isinstance(config.get("lock_file"), str) else DEFAULT_LOCK]
    evidence_lines = {}
    for line in logs:
        match = BLOCKED.search(line)
        if match:
            evidence_lines[match.group(1)] = line.strip()
            blocking.append(match.group(1))
    blocking = [p for p in dict.fromkeys(blocking) if safe_rel(p)]
    others = []
    for directory in dict.fromkeys(posixpath.dirname(p) for p in blocking):
        listing = targetctl("exec", "ls", "-1", "--", directory)
        others += [f"{directory}/{n}" for n in listing.stdout.split() if LOCK_NAME.match(n)]
    locks = []
    for path in dict.fromkeys(blocking + others):
        found = inspect_lock(path)
        if found:
            found["blocks_service"] = path in blocking
            locks.append(found)
    culprit = next((lock for lock in locks if lock["blocks_service"] and lock["stale"]), None)
    present = health.returncode != 0 and culprit is not None
    out = {"check": "stale-lockfile", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "lock_file": blocking[0] if blocking else None,
           "locks": locks, "fault_present": present}
    if present:
        evidence = [evidence_lines[culprit["path"]]] if culprit["path"] in evidence_lines else []
        evidence.append(f"{culprit['path']} names pid {culprit['owner_pid']}, which is not running")
        kept = [lock["path"] for lock in locks if not lock["stale"]]
        if kept:
            evidence.append("held by live processes (keep): " + ", ".join(kept))
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": culprit["path"], "evidence": evidence}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
