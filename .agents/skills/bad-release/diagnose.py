#!/usr/bin/env python3
"""Diagnose a current release that cannot run, and pick the rollback target (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

RELEASE_JSON = "etc/release.json"
RELEASES_DIR = "opt/releases"
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def host_platform() -> str:
    machine = targetctl("exec", "uname", "-m").stdout.strip().lower()
    return "linux/%s" % ARCH.get(machine, machine)


def release_problem(release: str, platform: str) -> str | None:
    """None when the release is installed and built for this platform."""
    if not RELEASE_NAME.match(release or ""):
        return f"invalid release name {release!r}"
    shown = targetctl("exec", "cat", f"{RELEASES_DIR}/{release}/manifest.json")
    if shown.returncode != 0:
        return f"not installed ({RELEASES_DIR}/{release}/manifest.json missing)"
    try:
        built_for = json.loads(shown.stdout).get("platform")
    except (ValueError, AttributeError):
        return "manifest is not valid JSON"
    if built_for != platform:
        return f"built for {built_for}, host is {platform}"
    return None


def diagnose() -> dict:
    health = targetctl("status")
    try:
        data = json.loads(targetctl("exec", "cat", RELEASE_JSON).stdout)
        current, history = str(data.get("current")), list(data.get("history") or [])
    except (ValueError, AttributeError, TypeError):
        return {"check": "bad-release", "healthy": health.returncode == 0,
                "health": health.stdout.strip()[-400:], "error": f"cannot read {RELEASE_JSON}",
                "fault_present": False}
    platform = host_platform()
    problem = release_problem(current, platform)
    rollback = None
    if problem:  # rollout undo: the newest earlier revision that can run
        earlier = [h for h in history if isinstance(h, dict) and h.get("release") != current]
        for entry in sorted(earlier, key=lambda h: h.get("revision", 0), reverse=True):
            if release_problem(str(entry.get("release")), platform) is None:
                rollback = str(entry["release"])
                break
    return {
        "check": "bad-release",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "current": current,
        "host_platform": platform,
        "current_problem": problem,
        "installed": targetctl("exec", "ls", "-1", RELEASES_DIR).stdout.split(),
        "rollback_to": rollback,
        "fault_present": health.returncode != 0 and problem is not None,
    }


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
