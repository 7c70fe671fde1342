#!/usr/bin/env python3
"""Put the registered address back in the one wrong <PEER>_ADDR setting; JSON on stdout.

Re-diagnoses first; replaces that KEY=... line (or appends it when the key is absent) with
`<peer>:<registered port>`. Every other line stays; the registry is never edited. Settings are
read at start: run `targetctl restart` afterwards. Acts only through `targetctl` with list
arguments. Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    result = {"action": "restore-peer-address", "ok": False}
    if not found["fault_present"]:
        return dict(result, error="no peer address setting disagrees with the registry", diagnose=found)
    key, value = found["diagnosis"]["entity"], found["expected_value"]
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*_ADDR", key) or not re.fullmatch(r"[\w.-]+:\d+", value):
        return dict(result, error=f"refusing to write {key!r}={value!r}")
    env = diag.parse_env(diag.targetctl("exec", "cat", diag.ENV).stdout)
    if key in env:
        script = "s|^[[:space:]]*%s[[:space:]]*=.*$|%s=%s|" % (key, key, value)
    else:
        script = "$a %s=%s" % (key, value)
    done = diag.targetctl("exec", "sed", "-i", "-E", script, diag.ENV)
    after = diag.parse_env(diag.targetctl("exec", "cat", diag.ENV).stdout)
    return dict(result, setting=key, value=value, was=env.get(key), next_step="targetctl restart",
                ok=done.returncode == 0 and after.get(key) == value)


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
