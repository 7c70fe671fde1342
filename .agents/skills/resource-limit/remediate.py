#!/usr/bin/env python3
"""Raise the app's memory limit above its working set (JSON on stdout).

Re-diagnoses, then sets only the memory limit in the app's limits file (the CPU limit, the
requests and other containers' files stay as they are). The edit runs inside the target with its
python3, atomically. The caller restarts the service afterwards.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

# Runs in the service root: argv = path, new limit (e.g. 256Mi).
RAISE = (
    "import json, os, sys\n"
    "path, limit = sys.argv[1], sys.argv[2]\n"
    "data = json.load(open(path))\n"
    "if 'memory_mb' in data:\n"
    "    data['memory_mb'] = int(limit[:-2]) * 1048576 // 1000000 + 1\n"
    "else:\n"
    "    data.setdefault('resources', {}).setdefault('limits', {})['memory'] = limit\n"
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(data, indent=2) + '\\n')\n"
    "os.replace(tmp, path)\n"
)


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("resource_limit_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
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
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
