#!/usr/bin/env python3
"""Put the service's routing entry back as its deployed manifest says; JSON on stdout.

Re-diagnoses first; replaces (or re-creates) only the entry for this service in the route map,
from the manifest under opt/<service>/manifests/ (else: selector app=<label>, targetPort = the
listen port). Other entries, the instance's labels and its port stay as they are. The map is
re-read per request: no restart. Acts only through `targetctl` with list arguments.
Importable: `remediate() -> dict`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

SET_ROUTE = (
    "import json, os, sys\n"
    "path, route = sys.argv[1], json.loads(sys.argv[2])\n"
    "data = json.load(open(path))\n"
    "routes = [r for r in data.get('routes', []) if r.get('service') != route['service']]\n"
    "data['routes'] = routes + [route]\n"
    "tmp = path + '.tmp'\n"
    "with open(tmp, 'w') as out:\n"
    "    out.write(json.dumps(data, indent=2) + '\\n')\n"
    "os.chmod(tmp, os.stat(path).st_mode & 0o777)\n"
    "os.replace(tmp, path)\n"
)


def _load_diagnose():
    spec = importlib.util.spec_from_file_location("service_routing_diagnose", Path(__file__).with_name("diagnose.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def remediate() -> dict:
    diag = _load_diagnose()
    found = diag.diagnose()
    if not found["fault_present"]:
        return {"action": "restore-route", "ok": False, "diagnosis": found,
                "error": "the routing entry already reaches the instance; nothing changed"}
    rel, route = found["routes_file"], found["reference"]
    done = diag.targetctl("exec", "python3", "-c", SET_ROUTE, rel, json.dumps(route))
    healthy = False
    for _ in range(6):
        if diag.targetctl("status").returncode == 0:
            healthy = True
            break
        time.sleep(0.5)
    return {"action": "restore-route", "file": rel, "route": route, "healthy_after": healthy,
            "ok": done.returncode == 0, "error": done.stderr.strip()[-400:] or None}


def main(argv: list[str]) -> int:
    result = remediate()
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
