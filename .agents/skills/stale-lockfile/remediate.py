#!/usr/bin/env python3
"""Remove stale lock files (owner process dead) on this incident's target; JSON on stdout.

A lock whose owner still runs is kept and reported. Acts only through `targetctl` with list
arguments. Importable: `remediate(lock_dir="var/lock") -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location(
        "stale_lockfile_diagnose", Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate(lock_dir: str = "var/lock") -> dict:
    diag = _load_diagnose()
    found = diag.diagnose(lock_dir)
    removed, kept, errors = [], [], []
    for lock in found["locks"]:
        if not lock["stale"]:
            kept.append(lock["path"])
            continue
        result = diag.targetctl("exec", "rm", "-f", "--", lock["path"])
        (removed if result.returncode == 0 else errors).append(lock["path"])
    return {"action": "remove-stale-locks", "removed": removed, "kept_live_owner": kept,
            "errors": errors, "ok": not errors}


def main(argv: list[str]) -> int:
    result = remediate(argv[0] if argv else "var/lock")
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
