#!/usr/bin/env python3
"""Recreate the readiness flag on this incident's target; JSON on stdout.

Acts only through `targetctl` with list arguments. Importable: `remediate(flag) -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import posixpath
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location(
        "readiness_probe_fail_diagnose", Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate(flag: str = "var/run/ready") -> dict:
    diag = _load_diagnose()
    if not diag.valid_flag(flag):
        return {"action": "create-readiness-flag", "flag": flag, "ok": False,
                "error": "flag must be relative to the service root"}
    parent = posixpath.dirname(flag) or "."
    mkdir = diag.targetctl("exec", "mkdir", "-p", "--", parent)
    touch = diag.targetctl("exec", "touch", "--", flag)
    exists = diag.targetctl("exec", "test", "-e", flag).returncode == 0
    return {"action": "create-readiness-flag", "flag": flag, "created": exists,
            "ok": mkdir.returncode == 0 and touch.returncode == 0 and exists}


def main(argv: list[str]) -> int:
    result = remediate(argv[0] if argv else "var/run/ready")
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
