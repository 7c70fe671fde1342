#!/usr/bin/env python3
"""Diagnose a peer service's address setting (<PEER>_ADDR in etc/service.env) with a wrong value.

Searches: the log's failed peer calls (`call to PEER failed: dial tcp ... (VAR=VALUE from
etc/service.env)`), the peers listed in etc/service.json, every *_ADDR setting in etc/service.env
and the service registry (`registry_file` in etc/service.json, else var/lib/registry/services.json)
that says where each peer answers. The entity is the setting's name (e.g. QUOTE_ADDR); the right
value is `<peer>:<registered port>`. The registry is the reference, never the thing to change.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import parse_env, targetctl  # noqa: E402

CLASS_ID = "wrong_peer_address"
ENV, CONFIG, DEFAULT_REGISTRY = "etc/service.env", "etc/service.json", "var/lib/registry/services.json"
LOGGED = re.compile(r"call to ([\w.-]+) failed: .*\(([A-Z][A-Z0-9_]*_ADDR)(?:=| is not set)")


def read_json(rel: str) -> dict:
    try:
        data = json.loads(targetctl("exec", "cat", rel).stdout or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def variable(peer: str) -> str:
    return peer.upper().replace("-", "_") + "_ADDR"


def diagnose() -> dict:
    health = targetctl("status")
    config = read_json(CONFIG)
    registry_rel = config.get("registry_file") or DEFAULT_REGISTRY
    registry = read_json(registry_rel)
    env = parse_env(targetctl("exec", "cat", ENV).stdout)
    peers = [p for p in config.get("peers") or [] if isinstance(p, str)]
    lines = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines() if LOGGED.search(line)]
    wrong = {}
    for peer in peers:
        entry = registry.get(peer)
        if isinstance(entry, dict) and isinstance(entry.get("port"), int):
            expected = "%s:%d" % (peer, entry["port"])
            if env.get(variable(peer)) != expected:
                wrong[variable(peer)] = {"peer": peer, "value": env.get(variable(peer)), "expected": expected}
    logged = LOGGED.search(lines[-1]).group(2) if lines else None
    entity = logged if logged in wrong else next(iter(wrong), None)
    present = health.returncode != 0 and entity is not None
    out = {"check": "wrong-peer-address", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "registry": registry_rel, "peers": peers,
           "logged_setting": logged, "disagreeing": wrong, "fault_present": present}
    if present:
        w = wrong[entity]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": entity, "evidence": lines[-1:] + [
            "%s=%s in %s; %s registers %s on port %s" % (entity, w["value"], ENV, registry_rel, w["peer"],
                                                         w["expected"].rpartition(":")[2])]}
        out["expected_value"] = w["expected"]
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
