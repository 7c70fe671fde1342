#!/usr/bin/env python3
"""Diagnose a workload scaled to zero replicas (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import subprocess
import sys

DEPLOYMENT = "etc/deployment.json"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def diagnose() -> dict:
    health = targetctl("status")
    shown = targetctl("exec", "cat", DEPLOYMENT)
    try:
        replicas = json.loads(shown.stdout).get("replicas")
    except (ValueError, AttributeError):
        replicas = None
    log = targetctl("logs", "-n", "20").stdout
    return {
        "check": "scaled-to-zero",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "deployment": DEPLOYMENT,
        "replicas": replicas,
        "log_says_scaled_to_zero": "scaled to 0 replicas" in log,
        "fault_present": health.returncode != 0 and replicas == 0,
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
