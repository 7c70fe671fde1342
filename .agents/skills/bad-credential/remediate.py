#!/usr/bin/env python3
"""Restore the database password file from the vault copy (JSON on stdout).

Re-diagnoses first; copies the vault copy over the password file the service reads (cp keeps the
file's mode), touching nothing else: not the vault copy, not the backups (`*.old`), not the
database. The service reads the password at start: run `targetctl restart` afterwards.
Acts only through `targetctl` (list arguments). Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("bad_credential_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "restore-password-file", "ok": False, "diagnosis": found,
                "error": "the password file is not implicated (or already matches the vault copy)"}
    source, target = found["credential_store"], found["password_file"]
    copied = diag.targetctl("exec", "cp", "--", source, target)
    matches = diag.checksum(target) == diag.checksum(source)
    return {"action": "restore-password-file", "restored": target, "from": source,
            "matches_store": matches, "ok": copied.returncode == 0 and matches,
            "next": "targetctl restart", "error": copied.stderr.strip()[-400:] or None}


def main(argv: list) -> int:
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
