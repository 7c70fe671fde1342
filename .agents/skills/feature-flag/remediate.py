#!/usr/bin/env python3
"""Turn off every failure-mode feature flag that is on (JSON on stdout).

The edit runs inside the target with its python3 (`targetctl exec python3 -c ...`), so the
flags file is rewritten atomically on every backend. Only flags that are on are touched.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

# Runs in the service root: set defaultVariant "off" for the named flags, write atomically.
TURN_OFF = (
    "import json, os, sys\n"
    "path, names = sys.argv[1], sys.argv[2:]\n"
    "data = json.load(open(path))\n"
    "for name in names:\n"
    "    flag = data['flags'][name]\n"
    "    flag.setdefault('variants', {}).setdefault('off', False)\n"
    "    flag['defaultVariant'] = 'off'\n"
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(data, indent=2) + '\\n')\n"
    "os.replace(tmp, path)\n"
)


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("feature_flag_diagnose",
                                                  Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate(flags_file: str = "etc/flags.json") -> dict:
    diag = _load_diagnose()
    found = diag.diagnose(flags_file)
    names = [item["flag"] for item in found["flags_on"]]
    if not names:
        return {"action": "turn-off-flags", "turned_off": [], "ok": False,
                "error": found.get("error") or "no feature flag is on"}
    result = diag.targetctl("exec", "python3", "-c", TURN_OFF, flags_file, *names)
    return {"action": "turn-off-flags", "turned_off": names if result.returncode == 0 else [],
            "ok": result.returncode == 0, "error": result.stderr.strip()[-400:] or None}


def main(argv: list) -> int:
    result = remediate(argv[0] if argv else "etc/flags.json")
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
