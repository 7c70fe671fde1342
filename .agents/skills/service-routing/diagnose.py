#!/usr/bin/env python3
"""Diagnose a wrong or missing routing entry in front of a healthy instance (JSON on stdout).

Searches: `routes_file`, `labels` and `service` in etc/service.json, the route map's entry for the
service (selector, targetPort), the port the instance listens on (`targetctl info`: expected
listen port; the "listening on" log line), the deployed manifest of the route under
opt/<service>/manifests/ (the reference), and the log's "no healthy upstream" / "upstream connect
error" lines. The entity is the route map's path. Acts only through `targetctl` (list arguments,
never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import listen_port, targetctl  # noqa: E402

CLASS_ID = "service_routing"
CONFIG = "etc/service.json"
LOGGED = re.compile(r"(no healthy upstream|upstream connect error).*")


def read_json(rel: str):
    try:
        return json.loads(targetctl("exec", "cat", rel).stdout or "null")
    except ValueError:
        return None


def diagnose() -> dict:
    health = targetctl("status")
    config = read_json(CONFIG) or {}
    rel, svc = config.get("routes_file"), config.get("service")
    labels = config.get("labels") if isinstance(config.get("labels"), dict) else {}
    out = {"check": "service-routing", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "routes_file": rel, "fault_present": False}
    if not isinstance(rel, str) or not rel or not isinstance(svc, str):
        return dict(out, note="requests are not routed through a route map")
    data = read_json(rel)
    routes = data.get("routes") if isinstance(data, dict) and isinstance(data.get("routes"), list) else []
    route = next((r for r in routes if isinstance(r, dict) and r.get("service") == svc), None)
    port = listen_port()
    manifest = read_json("opt/%s/manifests/service.json" % svc)
    reference = manifest.get("route") if isinstance(manifest, dict) and isinstance(manifest.get("route"), dict) else None
    if reference is None and port is not None:
        reference = {"service": svc, "port": 80, "selector": {"app": labels.get("app", svc)}, "targetPort": port}
    wrong = []
    if route is None:
        wrong.append("no entry for service %s" % svc)
    else:
        selector = route.get("selector") if isinstance(route.get("selector"), dict) else {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            wrong.append("selector %r matches no instance (labels %r)" % (selector, labels))
        if port is not None and route.get("targetPort") != port:
            wrong.append("targetPort %r, instance listens on %s" % (route.get("targetPort"), port))
    lines = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines() if LOGGED.search(line)]
    present = health.returncode != 0 and bool(wrong) and reference is not None
    out.update({"service": svc, "route": route, "reference": reference, "listen_port": port,
                "wrong": wrong, "fault_present": present})
    if present:
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": rel,
                            "evidence": lines[-1:] + ["%s: %s" % (rel, w) for w in wrong]}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
