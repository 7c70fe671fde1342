#!/usr/bin/env python3
"""Diagnose a missing readiness flag on this incident's target (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell). Importable:
`diagnose(flag="var/run/ready") -> dict`.
"""
from __future__ import annotations

import json
import subprocess
import sys

DEFAULT_FLAG = "var/run/ready"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def diagnose(flag: str = DEFAULT_FLAG) -> dict:
    health = targetctl("status")
    exists = targetctl("exec", "test", "-e", flag).returncode == 0
    return {
        "check": "readiness-probe-fail",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "flag": flag,
        "flag_exists": exists,
        "fault_present": health.returncode != 0 and not exists,
    }


def valid_flag(flag: str) -> bool:
    return bool(flag) and not flag.startswith("/") and ".." not in flag.split("/")


def main(argv: list[str]) -> int:
    flag = argv[0] if argv else DEFAULT_FLAG
    if not valid_flag(flag):
        print(json.dumps({"error": f"flag must be relative to the service root: {flag}"}))
        return 2
    print(json.dumps(diagnose(flag), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
