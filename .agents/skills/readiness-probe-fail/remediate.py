#!/usr/bin/env python3
"""Restore the warm-up data file from the copy shipped with the package; JSON on stdout.

Re-diagnoses first; copies `warmup.seed_file` over `warmup.data_file` only when the shipped copy
itself loads (it is copied, never moved; nothing else in the data directory is touched). The app
warms up at start: run `targetctl restart` afterwards. Creating var/run/ready by hand is NOT a
fix (the next start clears it). Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import posixpath
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    result = {"action": "restore-warmup-data", "ok": False}
    if not found["fault_present"]:
        return dict(result, error="the warm-up data file loads; nothing to restore", diagnose=found)
    data_file, seed_file = found["data_file"], found["seed_file"]
    if not diag.safe_rel(seed_file) or found.get("seed_problem"):
        return dict(result, error="no usable shipped copy (%s)" % found.get("seed_problem"))
    mkdir = diag.targetctl("exec", "mkdir", "-p", "--", posixpath.dirname(data_file) or ".")
    copy = diag.targetctl("exec", "cp", "-f", "--", seed_file, data_file)
    seed_text = diag.read(seed_file)
    fmt = diag.header_of(seed_text).get("format") if seed_text else None
    problem = diag.data_problem(diag.read(data_file), data_file, fmt)
    return dict(result, restored=data_file, source=seed_file, data_problem_after=problem,
                next_step="targetctl restart",
                ok=mkdir.returncode == 0 and copy.returncode == 0 and problem is None)


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
