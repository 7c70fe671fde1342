#!/usr/bin/env python3
"""Diagnose a service that listens on another port than the one it is reached on (JSON).

Searches: the expected port (`targetctl info`), every place the app takes its port from (in
order, the last wins: `listen_port` in etc/service.json, `server.port` there, drop-in files
etc/service.d/*.json with `listen_port`, `PORT` in etc/service.env) and the log's
`listen port N (from ...)` line. The entity is `<file>:<key>` of the setting that wins.
`metrics.port` (another listener) and etc/upstream.json (the load balancer) are not the cause.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import targetctl  # noqa: E402

CLASS_ID = "port_mismatch"
LISTEN = re.compile(r"listen port (\d+) \(from (.+?)\)")


def read_json(path: str) -> object:
    try:
        return json.loads(targetctl("exec", "cat", "--", path).stdout)
    except ValueError:
        return None


def expected_port() -> int | None:
    match = re.search(r"expected port: (\d+)", targetctl("info").stdout)
    if match:
        return int(match.group(1))
    value = os.environ.get("TARGETCTL_EXPECTED_PORT", "")
    return int(value) if value.isdigit() else None


def port_settings() -> list[dict]:
    """Every port setting in precedence order (the last one is what the app uses)."""
    found = []
    config = read_json("etc/service.json")
    config = config if isinstance(config, dict) else {}
    if "listen_port" in config:
        found.append({"file": "etc/service.json", "key": "listen_port", "value": config["listen_port"]})
    server = config.get("server")
    if isinstance(server, dict) and "port" in server:
        found.append({"file": "etc/service.json", "key": "server.port", "value": server["port"]})
    listing = targetctl("exec", "ls", "-1", "etc/service.d")
    for name in sorted(n for n in listing.stdout.split() if n.endswith(".json")):
        data = read_json(f"etc/service.d/{name}")
        if isinstance(data, dict) and "listen_port" in data:
            found.append({"file": f"etc/service.d/{name}", "key": "listen_port", "value": data["listen_port"]})
    env = targetctl("exec", "cat", "etc/service.env").stdout
    for line in env.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == "PORT" and not line.strip().startswith("#"):
            value = value.strip()
            found.append({"file": "etc/service.env", "key": "PORT",
                          "value": int(value) if value.isdigit() else value})
    return found


def diagnose() -> dict:
    health = targetctl("status")
    expected = expected_port()
    settings = port_settings()
    winner = settings[-1] if settings else None
    logged = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines()
              if LISTEN.search(line)]
    present = (health.returncode != 0 and winner is not None and expected is not None
               and winner["value"] != expected)
    out = {"check": "port-mismatch", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "expected_port": expected,
           "port_settings": settings, "effective": winner, "fault_present": present}
    if present:
        entity = "%s:%s" % (winner["file"], winner["key"])
        evidence = logged[-1:] + [health.stdout.strip().splitlines()[0] if health.stdout.strip() else "",
                                  f"{entity} = {winner['value']}, expected port {expected}"]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": entity,
                            "evidence": [e for e in evidence if e]}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
