#!/usr/bin/env python3
"""Restore the service's resolver file from its packaged default (JSON on stdout).

Re-diagnoses first; copies the packaged settings (the file the resolver's header names) over the
resolver file the service reads, touching nothing else: not other components' resolvers, not
backups (`*.bak`), not the DNS zone data. The resolver is read at start: run `targetctl restart`
afterwards. Acts only through `targetctl` (list arguments). Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"] or not found["packaged_file"]:
        return {"action": "restore-resolver", "ok": False, "diagnosis": found,
                "error": "the resolver is not implicated, or its packaged default is missing"}
    source, target = found["packaged_file"], found["resolver_file"]
    copied = diag.targetctl("exec", "cp", "--", source, target)
    return {"action": "restore-resolver", "restored": target, "from": source,
            "kept": found["other_resolver_files_not_a_source"], "ok": copied.returncode == 0,
            "next": "targetctl restart", "error": copied.stderr.strip()[-400:] or None}


def main(argv: list) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
