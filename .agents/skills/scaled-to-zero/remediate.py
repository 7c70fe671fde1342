#!/usr/bin/env python3
"""Scale the workload back up: fix only the file that holds the zero (JSON on stdout).

Deployment at 0 -> its replicas back to the count it ran with (last applied configuration, else
1). Autoscaler capping it at 0 -> minReplicas >= 1 and maxReplicas >= the deployment's replicas.
Other deployments are never touched. The edit runs inside the target with its python3,
atomically. The caller restarts the service afterwards.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK  # noqa: E402

# Runs in the service root: argv = path, mode (deployment|autoscaler), count.
SCALE = (
    "import json, os, sys\n"
    "path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
    "data = json.load(open(path))\n"
    "spec = data['spec'] if isinstance(data.get('spec'), dict) else data\n"
    "if mode == 'deployment':\n"
    "    spec['replicas'] = count\n"
    "else:\n"
    "    spec['minReplicas'] = max(1, int(spec.get('minReplicas') or 0))\n"
    "    spec['maxReplicas'] = max(count, spec['minReplicas'], int(spec.get('maxReplicas') or 0))\n"
) + WRITE_BACK


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    entity = found.get("zero_set_in")
    if not found.get("fault_present") or not entity:
        return {"action": "scale-up", "ok": False,
                "error": found.get("error") or "the workload does not want 0 replicas; nothing to change"}
    if entity == found.get("autoscaler"):
        mode = "autoscaler"
        count = max(found.get("replicas") or 1, 1)
    else:
        mode, count = "deployment", found.get("restore_replicas") or 1
    result = diag.targetctl("exec", "python3", "-c", SCALE, entity, mode, str(count))
    return {"action": "scale-up", "changed": entity, "mode": mode, "replicas": count,
            "left_alone": [o["path"] for o in found.get("other_deployments_left_alone", [])],
            "ok": result.returncode == 0, "error": result.stderr.strip()[-400:] or None,
            "next": "targetctl restart"}


def main() -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main())
