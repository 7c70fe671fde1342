#!/usr/bin/env python3
"""Turn off the one flag the log implicates, in the source file that defines it (JSON on stdout).

Re-diagnoses first; sets that flag's `defaultVariant` to "off" (adding an "off" variant if the
flag has none) and leaves every other flag and every other flag source untouched (product flags
that are on stay on). The edit runs inside the target with its python3 (`targetctl exec python3
-c ...`), written atomically; flags are re-read per request, so no restart is needed.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK_KEEP_MODE, wait_healthy  # noqa: E402

# Runs in the service root: set defaultVariant "off" for one flag, write atomically.
TURN_OFF = (
    "import json, os, sys\n"
    "path, name = sys.argv[1], sys.argv[2]\n"
    "data = json.load(open(path))\n"
    "flag = data['flags'][name]\n"
    "variants = flag.setdefault('variants', {})\n"
    "variants['off'] = False if isinstance(variants.get('off', False), bool) else variants['off']\n"
    "flag['defaultVariant'] = 'off'\n"
) + WRITE_BACK_KEEP_MODE


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "turn-off-flag", "ok": False, "diagnosis": found,
                "error": "no flag is implicated by the log on an unhealthy service; nothing changed"}
    culprit = found["culprit"]
    result = diag.targetctl("exec", "python3", "-c", TURN_OFF, culprit["source"], culprit["flag"])
    healthy = wait_healthy(10)  # flags are re-read per request: the next probe must pass
    return {"action": "turn-off-flag", "flag": culprit["flag"], "source": culprit["source"],
            "left_on": found["not_implicated"], "edited": result.returncode == 0,
            "healthy_after": healthy,
            # ok = this cause is fixed; another cause may still keep the service unhealthy
            "ok": result.returncode == 0,
            "error": result.stderr.strip()[-400:] or None}


def main(argv: list) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
