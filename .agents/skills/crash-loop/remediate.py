#!/usr/bin/env python3
"""Restore the entrypoint from its packaged copy (JSON on stdout).

Re-diagnoses, then copies the packaged copy over the entrypoint only (hooks and the files the
bad step reads are left as they are). The caller restarts the service afterwards.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("crash_loop_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
    found = diag.diagnose()
    if not found.get("fault_present") or not found.get("packaged_copy"):
        return {"action": "restore-entrypoint", "ok": False,
                "error": found.get("error") or "the entrypoint matches its packaged copy (or none was found)"}
    result = diag.targetctl("exec", "cp", "--", found["packaged_copy"], found["entrypoint"])
    return {"action": "restore-entrypoint", "restored": found["entrypoint"], "from": found["packaged_copy"],
            "removed_lines": found["added_lines"], "hooks_kept": found["hooks_kept"],
            "ok": result.returncode == 0, "error": result.stderr.strip()[-400:] or None,
            "next": "targetctl restart"}


def main() -> int:
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
