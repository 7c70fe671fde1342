#!/usr/bin/env python3
"""Put the registered address back in the one wrong <PEER>_ADDR setting; JSON on stdout.

Re-diagnoses first; replaces that KEY=... line (or appends it when the key is absent) with
`<peer>:<registered port>`. Every other line stays; the registry is never edited. Settings are
read at start: run `targetctl restart` afterwards. Acts only through `targetctl` with list
arguments. Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("wrong_peer_address_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
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
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
