#!/usr/bin/env python3
"""Restore the entrypoint from its packaged copy (JSON on stdout).

Re-diagnoses, then copies the packaged copy over the entrypoint only (hooks and the files the
bad step reads are left as they are). The caller restarts the service afterwards.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
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
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main())
