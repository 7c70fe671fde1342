#!/usr/bin/env python3
"""Restore the service's resolver file from its packaged default (JSON on stdout).

Re-diagnoses first; copies the packaged settings (the file the resolver's header names) over the
resolver file the service reads, touching nothing else: not other components' resolvers, not
backups (`*.bak`), not the DNS zone data. The resolver is read at start: run `targetctl restart`
afterwards. Acts only through `targetctl` (list arguments). Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("dns_misconfig_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
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
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
