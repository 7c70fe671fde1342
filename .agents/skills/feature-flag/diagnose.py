#!/usr/bin/env python3
"""Diagnose failure-mode feature flags that are on (JSON on stdout).

Acts only through `targetctl` (list arguments, never a shell), so it works on every backend.
Importable: `diagnose(flags_file="etc/flags.json") -> dict`.
"""
from __future__ import annotations

import json
import subprocess
import sys

FLAGS_FILE = "etc/flags.json"


def targetctl(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(["targetctl", *args], capture_output=True, text=True, timeout=timeout)


def flags_on(config: dict) -> list:
    """Flags whose selected variant is truthy (flagd semantics), with that variant."""
    found = []
    for name, flag in sorted((config.get("flags") or {}).items()):
        if not isinstance(flag, dict) or flag.get("state") != "ENABLED":
            continue
        variant = flag.get("defaultVariant")
        if variant != "off" and (flag.get("variants") or {}).get(variant):
            found.append({"flag": name, "variant": variant})
    return found


def diagnose(flags_file: str = FLAGS_FILE) -> dict:
    health = targetctl("status")
    shown = targetctl("exec", "cat", flags_file)
    try:
        on = flags_on(json.loads(shown.stdout))
        error = None
    except (ValueError, AttributeError) as exc:
        on, error = [], f"cannot read {flags_file}: {exc} {shown.stderr.strip()}".strip()
    return {
        "check": "feature-flag",
        "healthy": health.returncode == 0,
        "health": health.stdout.strip()[-400:],
        "flags_file": flags_file,
        "flags_on": on,
        "error": error,
        "fault_present": health.returncode != 0 and bool(on),
    }


def main(argv: list) -> int:
    print(json.dumps(diagnose(argv[0] if argv else FLAGS_FILE), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
