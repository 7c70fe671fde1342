#!/usr/bin/env python3
"""Let the Pending workload be placed: undo only the constraint that holds it (JSON on stdout).

Re-diagnoses, then per finding: a changed pod-template field named by the scheduler's reason ->
that field back to the last applied configuration (nothing else in the spec); nodes cordoned
with no maintenance note -> uncordoned (nodes cordoned on purpose, the control plane's taint,
labels and capacities are left alone); a ResourceQuota too low -> its spec.hard back to the last
applied values (or, without one, the exceeded key raised to used + requested). Other pods,
quotas and priority classes are never touched. Each edit runs inside the target with its
python3, atomically. The caller restarts the service afterwards (the scheduler also retries).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK  # noqa: E402

# Runs in the service root: argv = path, mode (spec|uncordon|quota), JSON argument.
EDIT = (
    "import json, os, sys\n"
    "path, mode, arg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n"
    "data = json.load(open(path))\n"
    "if mode == 'spec':\n"
    "    spec = data.setdefault('template', {}).setdefault('spec', {})\n"
    "    for field, value in arg.items():\n"
    "        if value is None:\n"
    "            spec.pop(field, None)\n"
    "        else:\n"
    "            spec[field] = value\n"
    "elif mode == 'uncordon':\n"
    "    data.setdefault('spec', {}).pop('unschedulable', None)\n"
    "else:\n"
    "    data.setdefault('spec', {}).setdefault('hard', {}).update(arg)\n"
) + WRITE_BACK
USED = re.compile(r"requested: ([\w.]+)=([\w.]+), used: [\w.]+=([\w.]+), limited")


def _mib(value: str) -> float:
    match = re.match(r"^([0-9.]+)(Ki|Mi|Gi|Ti)?$", value)
    scale = {None: 1 / (1024 * 1024), "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    return float(match.group(1)) * scale[match.group(2)] if match else 0.0


def _quota_values(diag, finding: dict) -> dict:
    doc = diag.read_json(finding["entity"]) or {}
    applied = (diag.last_applied(doc).get("spec") or {}).get("hard")
    if isinstance(applied, dict) and applied:
        return applied
    match = USED.search(finding["line"])
    if not match:
        return {}
    key, requested, used = match.groups()
    if "memory" in key:
        return {key: "%dMi" % int(_mib(requested) + _mib(used) + 1)}
    return {}


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found.get("fault_present"):
        return {"action": "unblock-scheduling", "ok": False,
                "error": "no Pending workload with a known cause; nothing to change"}
    changed, errors = [], []
    for finding in found["findings"]:
        if finding["kind"] == "spec":
            applied = ((diag.last_applied(diag.read_json(finding["entity"]) or {}).get("template") or {})
                       .get("spec") or {})
            edits = [(finding["entity"], "spec", {f: applied.get(f) for f in finding["fields"]})]
        elif finding["kind"] == "cordoned":
            edits = [(node, "uncordon", {}) for node in finding["nodes"]]
        elif finding["kind"] == "quota":
            values = _quota_values(diag, finding)
            if not values:
                errors.append("cannot tell what quota %s should allow" % finding["entity"])
                continue
            edits = [(finding["entity"], "quota", values)]
        else:
            continue
        for path, mode, arg in edits:
            result = diag.targetctl("exec", "python3", "-c", EDIT, path, mode, json.dumps(arg))
            if result.returncode != 0:
                errors.append("%s: %s" % (path, result.stderr.strip()[-300:]))
            else:
                changed.append({"path": path, "change": mode, "values": arg})
    left = [n for f in found["findings"] for n in f.get("left_cordoned", [])]
    return {"action": "unblock-scheduling", "changed": changed, "left_alone": sorted(set(left)),
            "ok": bool(changed) and not errors, "error": "; ".join(errors) or None, "next": "targetctl restart"}


def main() -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main())
