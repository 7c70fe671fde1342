#!/usr/bin/env python3
"""Delete the active chaos schedules under etc/chaos (JSON on stdout).

Paused schedules inject nothing and are kept. Acts only through `targetctl` with list arguments.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("chaos_schedule_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate(chaos_dir: str = "etc/chaos") -> dict:
    diag = _load_diagnose()
    found = diag.diagnose(chaos_dir)
    deleted, kept, errors = [], [], []
    for schedule in found["schedules"]:
        if schedule["paused"]:
            kept.append(schedule["path"])
            continue
        result = diag.targetctl("exec", "rm", "-f", "--", schedule["path"])
        (deleted if result.returncode == 0 else errors).append(schedule["path"])
    return {"action": "delete-chaos-schedules", "deleted": deleted, "kept_paused": kept,
            "errors": errors, "ok": bool(deleted) and not errors}


def main(argv: list) -> int:
    result = remediate(argv[0] if argv else "etc/chaos")
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
