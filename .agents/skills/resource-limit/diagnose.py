#!/usr/bin/env python3
"""Diagnose a memory limit set below the service's working set (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

LIMITS = "etc/limits.json"
DOCUMENTED = "etc/limits.json.default"
PEAK = re.compile(r"working set (\d+) MB exceeds the memory limit of (\d+) MB")


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def memory_mb(path: str) -> int | None:
    try:
        value = json.loads(targetctl("exec", "cat", path).stdout).get("memory_mb")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def diagnose() -> dict:
    health = targetctl("status")
    current, documented = memory_mb(LIMITS), memory_mb(DOCUMENTED)
    log = targetctl("logs", "-n", "40").stdout
    kills = PEAK.findall(log)
    return {
        "check": "resource-limit",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "memory_mb": current,
        "documented_memory_mb": documented,
        "oom_kills_in_log": len(kills),
        "peak_working_set_mb": int(kills[-1][0]) if kills else None,
        "fault_present": (health.returncode != 0 and current is not None and documented is not None
                          and current < documented),
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
