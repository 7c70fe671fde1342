#!/usr/bin/env python3
"""Delete the schedule(s) degrading this service (JSON on stdout).

Re-diagnoses first; deletes only active schedules that select this service (the ones the log
names when it names any). Paused schedules and schedules of other services are kept. Schedules
are re-read per request, so no restart is needed. Acts only through `targetctl` (list arguments).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import wait_healthy  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "delete-schedule", "ok": False, "diagnosis": found,
                "error": "no active schedule selects this unhealthy service; nothing changed"}
    deleted, errors = [], []
    for schedule in found["culprits"]:
        result = diag.targetctl("exec", "rm", "-f", "--", schedule["path"])
        (deleted if result.returncode == 0 else errors).append(schedule["path"])
    healthy = wait_healthy(10)  # schedules are re-read per request: the next probe must pass
    return {"action": "delete-schedule", "deleted": deleted, "kept": found["keep"],
            "errors": errors, "healthy_after": healthy,
            # ok = this cause is gone; another cause may still keep the service unhealthy
            "ok": bool(deleted) and not errors}


def main(argv: list) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
