#!/usr/bin/env python3
"""Aim the readiness probe back at the app's listen port and health endpoint; JSON on stdout.

Re-diagnoses first; changes only `readiness.port` / `readiness.path` in the probe definition file
(the liveness probe, the other fields and any old copies stay as they are). The supervisor re-reads
the definition at every probe: no restart needed. Acts only through `targetctl` with list
arguments. Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

SET_FIELDS = (
    "import json, os, sys\n"
    "path, fix = sys.argv[1], json.loads(sys.argv[2])\n"
    "data = json.load(open(path))\n"
    "data['readiness'].update(fix)\n"
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(data, indent=2) + '\\n')\n"
    "os.chmod(tmp, os.stat(path).st_mode & 0o777)\n"
    "os.replace(tmp, path)\n"
)


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("probe_misconfig_diagnose", Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "fix-readiness-probe", "ok": False, "diagnosis": found,
                "error": "the readiness probe already targets the app; nothing changed"}
    rel, fix = found["probes_file"], found["fix"]
    done = diag.targetctl("exec", "python3", "-c", SET_FIELDS, rel, json.dumps(fix))
    healthy = False
    for _ in range(10):  # the supervisor probes every half second
        if diag.targetctl("status").returncode == 0:
            healthy = True
            break
        time.sleep(0.5)
    return {"action": "fix-readiness-probe", "file": rel, "set": fix, "healthy_after": healthy,
            "ok": done.returncode == 0, "error": done.stderr.strip()[-400:] or None}


def main(argv: list[str]) -> int:
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
