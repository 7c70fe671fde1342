#!/usr/bin/env python3
"""Raise the app's memory limit above its working set (JSON on stdout).

Re-diagnoses, then sets only the memory limit in the app's limits file (the CPU limit, the
requests and other containers' files stay as they are). The edit runs inside the target with its
python3, atomically. The caller restarts the service afterwards.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK  # noqa: E402

# Runs in the service root: argv = path, new limit (e.g. 256Mi).
RAISE = (
    "import json, os, sys\n"
    "path, limit = sys.argv[1], sys.argv[2]\n"
    "data = json.load(open(path))\n"
    "if 'memory_mb' in data:\n"
    "    data['memory_mb'] = int(limit[:-2]) * 1048576 // 1000000 + 1\n"
    "else:\n"
    "    data.setdefault('resources', {}).setdefault('limits', {})['memory'] = limit\n"
) + WRITE_BACK


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found.get("fault_present") or not found.get("proposed_limit"):
        return {"action": "raise-memory-limit", "ok": False,
                "error": found.get("error") or "the memory limit is not below the working set"}
    result = diag.targetctl("exec", "python3", "-c", RAISE, found["limits_file"], found["proposed_limit"])
    return {"action": "raise-memory-limit", "file": found["limits_file"], "from": found["memory_limit"],
            "to": found["proposed_limit"], "kept": {"cpu": found["cpu_limit_kept"],
                                                     "other_files": [o["path"] for o in found["other_limits_left_alone"]]},
            "ok": result.returncode == 0, "error": result.stderr.strip()[-400:] or None,
            "next": "targetctl restart"}


def main() -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main())
