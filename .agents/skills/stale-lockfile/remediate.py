#!/usr/bin/env python3
"""Remove the lock file that blocks the service when its owner is dead; JSON on stdout.

Re-diagnoses first and removes only that one file (never a lock held by a live process, never
other *.lock files). The service checks its lock per request: no restart needed. Acts only
through `targetctl` with list arguments. Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "remove-stale-lock", "removed": [], "ok": False,
                "error": "no lock held by a dead process blocks the service", "diagnose": found}
    path = found["diagnosis"]["entity"]
    again = diag.inspect_lock(path)  # the owner may have come back meanwhile
    if again is None or not again["stale"]:
        return {"action": "remove-stale-lock", "removed": [], "ok": False,
                "error": f"{path} is gone or held by a live process now"}
    done = diag.targetctl("exec", "rm", "-f", "--", path)
    health = diag.targetctl("status")
    return {"action": "remove-stale-lock", "removed": [path] if done.returncode == 0 else [],
            "kept_live_owner": [lock["path"] for lock in found["locks"] if not lock["stale"]],
            "healthy_after": health.returncode == 0, "ok": done.returncode == 0}


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
