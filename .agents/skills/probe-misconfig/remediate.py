#!/usr/bin/env python3
"""Aim the readiness probe back at the app's listen port and health endpoint; JSON on stdout.

Re-diagnoses first; changes only `readiness.port` / `readiness.path` in the probe definition file
(the liveness probe, the other fields and any old copies stay as they are). The supervisor re-reads
the definition at every probe: no restart needed. Acts only through `targetctl` with list
arguments. Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK_KEEP_MODE, wait_healthy  # noqa: E402

SET_FIELDS = (
    "import json, os, sys\n"
    "path, fix = sys.argv[1], json.loads(sys.argv[2])\n"
    "data = json.load(open(path))\n"
    "data['readiness'].update(fix)\n"
) + WRITE_BACK_KEEP_MODE


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "fix-readiness-probe", "ok": False, "diagnosis": found,
                "error": "the readiness probe already targets the app; nothing changed"}
    rel, fix = found["probes_file"], found["fix"]
    done = diag.targetctl("exec", "python3", "-c", SET_FIELDS, rel, json.dumps(fix))
    healthy = wait_healthy(10)  # the supervisor probes every half second
    return {"action": "fix-readiness-probe", "file": rel, "set": fix, "healthy_after": healthy,
            "ok": done.returncode == 0, "error": done.stderr.strip()[-400:] or None}


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
