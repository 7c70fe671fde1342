#!/usr/bin/env python3
"""Diagnose a broken resolver config for the service's outgoing connections (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import subprocess
import sys

RESOLV = "etc/dns/resolv.conf"
PACKAGED = "etc/dns/resolv.conf.default"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def settings(text: str) -> dict:
    found = {"nameserver": [], "search": []}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"]:
            found["nameserver"] += words[1:2]
        elif words[:1] in (["search"], ["domain"]):
            found["search"] = words[1:]
    return found


def diagnose() -> dict:
    health = targetctl("status")
    current, packaged = targetctl("exec", "cat", RESOLV), targetctl("exec", "cat", PACKAGED)
    now, known_good = settings(current.stdout), settings(packaged.stdout)
    differs = packaged.returncode == 0 and now != known_good
    return {
        "check": "dns-misconfig",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "resolver": now,
        "packaged_resolver": known_good if packaged.returncode == 0 else None,
        "health_reports_resolution_failure": "name resolution failed" in health.stdout,
        "fault_present": health.returncode != 0 and differs,
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
