#!/usr/bin/env python3
"""Find the recurring experiment schedule that degrades this service (JSON on stdout).

Searches instead of assuming: the schedules directory comes from etc/service.json (`chaos_dir`,
default etc/chaos), every manifest below it (any namespace subdirectory) is read, and each is
classified: paused, selecting another service, or active on this one. The service log names the
schedule on every affected request (`... from experiment schedule '<name>' (<file>)`); the culprit
is an active schedule selecting this service, preferring the one the log names.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import read_json, targetctl  # noqa: E402

DEFAULT_DIR = "etc/chaos"
PAUSE = "experiment.chaos-mesh.org/pause"
NAMED = re.compile(r"from experiment schedule '([^']+)' \(([^)\s]+)\)")


def describe(path: str, manifest: dict, service: str) -> dict:
    metadata = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    kind = str(spec.get("type") or "")  # e.g. HTTPChaos, with its body under "httpChaos"
    body = next((v for k, v in spec.items() if k.lower() == kind.lower() and isinstance(v, dict)), {})
    action = body.get("action") or next((k for k in ("abort", "patch", "replace", "delay")
                                         if body.get(k)), None) or ",".join(body.get("stressors") or {})
    labels = (body.get("selector") or {}).get("labelSelectors") or {}
    selects = not labels or any(str(v) in (service, "service") for v in labels.values())
    return {"path": path, "name": metadata.get("name"), "namespace": metadata.get("namespace"),
            "type": kind, "action": action, "schedule": spec.get("schedule"),
            "selector": labels, "selects_this_service": selects,
            "paused": str((metadata.get("annotations") or {}).get(PAUSE)).lower() == "true"}


def diagnose() -> dict:
    health = targetctl("status")
    config = read_json("etc/service.json") or {}
    service = str(config.get("service") or "service")
    chaos_dir = str(config.get("chaos_dir") or DEFAULT_DIR).strip("/")
    logs = targetctl("logs", "-n", "200").stdout
    named: dict[str, str] = {}  # file -> last log line naming it
    for line in logs.splitlines():
        match = NAMED.search(line)
        if match:
            named[match.group(2)] = line.strip()
    listing = targetctl("exec", "find", chaos_dir, "-type", "f", "-name", "*.json")
    schedules, unreadable = [], []
    for path in sorted(listing.stdout.split()):
        manifest = read_json(path)
        if isinstance(manifest, dict) and isinstance(manifest.get("spec"), dict):
            item = describe(path, manifest, service)
            item["in_log"] = path in named
            schedules.append(item)
        else:
            unreadable.append(path)
    active = [s for s in schedules if not s["paused"] and s["selects_this_service"]]
    culprits = [s for s in active if s["in_log"]] or active
    unhealthy = health.returncode != 0
    result = {
        "check": "chaos-schedule",
        "healthy": not unhealthy,
        "health": health.stdout.strip()[-400:],
        "service": service,
        "schedules_dir": chaos_dir,
        "schedules": schedules,
        "keep": [s["path"] for s in schedules if s not in active],
        "unreadable": unreadable,
        "fault_present": unhealthy and bool(culprits),
    }
    if result["fault_present"]:
        result["culprits"] = culprits
        first = culprits[0]
        result["diagnosis"] = {
            "fault_class": "chaos_schedule",
            "entity": first["name"],
            "evidence": [named.get(first["path"]) or f"{first['path']}: active, selects {service}",
                         f"{first['path']}: {first['type']} {first['action']} every "
                         f"{first['schedule']}, not paused, selector {first['selector'] or 'all'}",
                         health.stdout.strip().splitlines()[0] if health.stdout.strip() else "no answer"],
        }
    return result


def main(argv: list) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
