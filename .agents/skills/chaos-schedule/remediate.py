#!/usr/bin/env python3
"""Delete the schedule(s) degrading this service (JSON on stdout).

Re-diagnoses first; deletes only active schedules that select this service (the ones the log
names when it names any). Paused schedules and schedules of other services are kept. Schedules
are re-read per request, so no restart is needed. Acts only through `targetctl` (list arguments).
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("chaos_schedule_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "delete-schedule", "ok": False, "diagnosis": found,
                "error": "no active schedule selects this unhealthy service; nothing changed"}
    deleted, errors = [], []
    for schedule in found["culprits"]:
        result = diag.targetctl("exec", "rm", "-f", "--", schedule["path"])
        (deleted if result.returncode == 0 else errors).append(schedule["path"])
    healthy = False
    for _ in range(10):  # schedules are re-read per request: the next probe must pass
        if diag.targetctl("status").returncode == 0:
            healthy = True
            break
        time.sleep(0.5)
    return {"action": "delete-schedule", "deleted": deleted, "kept": found["keep"],
            "errors": errors, "healthy_after": healthy,
            # ok = this cause is gone; another cause may still keep the service unhealthy
            "ok": bool(deleted) and not errors}


def main(argv: list) -> int:
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
