#!/usr/bin/env python3
"""Restore the database password file from the vault copy (JSON on stdout).

Re-diagnoses first; copies the vault copy over the password file the service reads (cp keeps the
file's mode), touching nothing else: not the vault copy, not the backups (`*.old`), not the
database. The service reads the password at start: run `targetctl restart` afterwards.
Acts only through `targetctl` (list arguments). Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
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
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
