#!/usr/bin/env python3
"""Diagnose a stale lock file on this incident's target (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose(lock_dir="var/lock") -> dict`.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

LOCK_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.lock$")


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def owner_alive(pid: int) -> bool:
    """Whether `pid` runs in the target's context (its own pid namespace in a container)."""
    return targetctl("exec", "test", "-d", f"/proc/{pid}").returncode == 0


def diagnose(lock_dir: str = "var/lock") -> dict:
    health = targetctl("status")
    listing = targetctl("exec", "ls", "-1", lock_dir)
    locks = []
    for name in listing.stdout.split():
        if not LOCK_NAME.match(name):
            continue
        path = f"{lock_dir}/{name}"
        content = targetctl("exec", "cat", path).stdout.strip()
        pid = int(content) if content.isdigit() else None
        alive = owner_alive(pid) if pid else False
        locks.append({"path": path, "owner_pid": pid, "owner_alive": alive, "stale": not alive})
    return {
        "check": "stale-lockfile",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "locks": locks,
        "fault_present": health.returncode != 0 and any(lock["stale"] for lock in locks),
    }


def main(argv: list[str]) -> int:
    lock_dir = argv[0] if argv else "var/lock"
    if ".." in lock_dir.split("/") or lock_dir.startswith("/"):
        print(json.dumps({"error": f"lock dir must be relative to the service root: {lock_dir}"}))
        return 2
    print(json.dumps(diagnose(lock_dir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
