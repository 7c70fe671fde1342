#!/usr/bin/env python3
"""Diagnose active chaos schedules under etc/chaos (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose(chaos_dir="etc/chaos") -> dict`.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

CHAOS_DIR = "etc/chaos"
SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.json$")
PAUSE = "experiment.chaos-mesh.org/pause"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def describe(path: str, manifest: dict) -> dict:
    spec = manifest.get("spec") or {}
    kind = str(spec.get("type") or "")  # e.g. HTTPChaos, with its body under "httpChaos"
    body = next((v for k, v in spec.items() if k.lower() == kind.lower() and isinstance(v, dict)), {})
    action = body.get("action") or next((k for k in ("abort", "patch", "replace", "delay")
                                         if body.get(k)), None) or ",".join(body.get("stressors") or {})
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return {"path": path, "name": (manifest.get("metadata") or {}).get("name"), "type": kind,
            "action": action, "schedule": spec.get("schedule"),
            "paused": str(annotations.get(PAUSE)).lower() == "true"}


def diagnose(chaos_dir: str = CHAOS_DIR) -> dict:
    health = targetctl("status")
    listing = targetctl("exec", "ls", "-1", chaos_dir)
    schedules, unreadable = [], []
    for name in listing.stdout.split():
        if not SCHEDULE_NAME.match(name):
            continue
        path = f"{chaos_dir}/{name}"
        try:
            schedules.append(describe(path, json.loads(targetctl("exec", "cat", path).stdout)))
        except (ValueError, AttributeError):
            unreadable.append(path)
    active = [s for s in schedules if not s["paused"]]
    return {
        "check": "chaos-schedule",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "schedules": schedules,
        "unreadable": unreadable,
        "fault_present": health.returncode != 0 and bool(active),
    }


def main(argv: list) -> int:
    chaos_dir = argv[0] if argv else CHAOS_DIR
    if ".." in chaos_dir.split("/") or chaos_dir.startswith("/"):
        print(json.dumps({"error": f"chaos dir must be relative to the service root: {chaos_dir}"}))
        return 2
    print(json.dumps(diagnose(chaos_dir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
