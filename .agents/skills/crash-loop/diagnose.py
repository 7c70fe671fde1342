#!/usr/bin/env python3
"""Diagnose a changed start command (etc/entrypoint.sh vs the packaged copy); JSON on stdout.

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys

ENTRYPOINT = "etc/entrypoint.sh"
PACKAGED = "etc/entrypoint.sh.default"
CRASH = re.compile(r"exited with code \d+|killed by signal \d+|Traceback|Error|error:|not found")


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def diagnose() -> dict:
    health = targetctl("status")
    current = targetctl("exec", "cat", ENTRYPOINT)
    packaged = targetctl("exec", "cat", PACKAGED)
    changes = [line for line in difflib.unified_diff(
        packaged.stdout.splitlines(), current.stdout.splitlines(), PACKAGED, ENTRYPOINT, lineterm="")]
    log = targetctl("logs", "-n", "40").stdout.splitlines()
    return {
        "check": "crash-loop",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "entrypoint_changed": packaged.returncode == 0 and current.stdout != packaged.stdout,
        "packaged_copy": PACKAGED if packaged.returncode == 0 else None,
        "diff": changes[:40],
        "crash_lines": [line for line in log if CRASH.search(line)][-8:],
        "fault_present": (health.returncode != 0 and packaged.returncode == 0
                          and current.stdout != packaged.stdout),
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
