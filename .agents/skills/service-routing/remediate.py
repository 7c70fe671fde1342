#!/usr/bin/env python3
"""Put the service's routing entry back as its deployed manifest says; JSON on stdout.

Re-diagnoses first; replaces (or re-creates) only the entry for this service in the route map,
from the manifest under opt/<service>/manifests/ (else: selector app=<label>, targetPort = the
listen port). Other entries, the instance's labels and its port stay as they are. The map is
re-read per request: no restart. Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import load_diagnose, print_result  # noqa: E402
from _lib.targetctl import WRITE_BACK_KEEP_MODE, wait_healthy  # noqa: E402

SET_ROUTE = (
    "import json, os, sys\n"
    "path, route = sys.argv[1], json.loads(sys.argv[2])\n"
    "data = json.load(open(path))\n"
    "routes = [r for r in data.get('routes', []) if r.get('service') != route['service']]\n"
    "data['routes'] = routes + [route]\n"
) + WRITE_BACK_KEEP_MODE


def remediate() -> dict:
    diag = load_diagnose(__file__)
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "restore-route", "ok": False, "diagnosis": found,
                "error": "the routing entry already reaches the instance; nothing changed"}
    rel, route = found["routes_file"], found["reference"]
    done = diag.targetctl("exec", "python3", "-c", SET_ROUTE, rel, json.dumps(route))
    healthy = wait_healthy(6)
    return {"action": "restore-route", "file": rel, "route": route, "healthy_after": healthy,
            "ok": done.returncode == 0, "error": done.stderr.strip()[-400:] or None}


def main(argv: list[str]) -> int:
    return print_result(remediate(), "ok")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
