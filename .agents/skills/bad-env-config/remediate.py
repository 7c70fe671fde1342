#!/usr/bin/env python3
"""Restore the one bad setting in etc/service.env to its documented value; JSON on stdout.

Re-diagnoses first; replaces the KEY=... line (or appends KEY=VALUE when the key is absent) with
the value documented in etc/service.env.example. Every other line stays as it is (optional
settings, unusual values); etc/service.env.bak is never used. Settings are read at start: run
`targetctl restart` afterwards. Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def _sed_escape(text: str) -> str:
    return re.sub(r"([\\|&])", r"\\\1", text)


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    result = {"action": "restore-setting", "ok": False}
    if not found["fault_present"]:
        return dict(result, error="no required setting is missing or bad", diagnose=found)
    key, value = found["diagnosis"]["entity"], found["documented_value"]
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key) or "\n" in value:
        return dict(result, error=f"refusing to write {key!r}")
    env = diag.parse_env(diag.targetctl("exec", "cat", diag.ENV).stdout)
    if key in env:
        script = "s|^[[:space:]]*%s[[:space:]]*=.*$|%s=%s|" % (key, key, _sed_escape(value))
    else:
        script = "$a %s=%s" % (key, value.replace("\\", "\\\\"))
    done = diag.targetctl("exec", "sed", "-i", "-E", script, diag.ENV)
    after = diag.parse_env(diag.targetctl("exec", "cat", diag.ENV).stdout)
    return dict(result, setting=key, value=value, was=env.get(key), next_step="targetctl restart",
                ok=done.returncode == 0 and after.get(key) == value)


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
