#!/usr/bin/env python3
"""Diagnose a readiness probe aimed at the wrong port or path while the app is healthy (JSON).

Searches: `probes_file` in etc/service.json (the probe definition the supervisor uses), that file's
readiness probe (port, path), the app's listen port (`targetctl info`: expected listen port, and
the app's "listening on" log line), the app's health endpoint (/healthz; the liveness probe beside
it uses the same), and the log's "Readiness probe failed" lines. The entity is the definition
file's path. Acts only through `targetctl` (list arguments, never a shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import targetctl  # noqa: E402

CLASS_ID = "probe_misconfig"
CONFIG, HEALTH_PATH = "etc/service.json", "/healthz"
FAILED = re.compile(r"Readiness probe failed: .*")


def read_json(rel: str) -> dict:
    try:
        data = json.loads(targetctl("exec", "cat", rel).stdout or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def listen_port() -> int | None:
    info = targetctl("info").stdout
    match = re.search(r"expected listen port:\s*(\d+)", info)
    if match:
        return int(match.group(1))
    ports = re.findall(r"listening on [\d.]+:(\d+)", targetctl("logs", "-n", "200").stdout)
    return int(ports[-1]) if ports else None


def diagnose() -> dict:
    health = targetctl("status")
    rel = read_json(CONFIG).get("probes_file")
    out = {"check": "probe-misconfig", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "probes_file": rel, "fault_present": False}
    if not isinstance(rel, str) or not rel:
        return dict(out, note="no probe definition configured")
    probes = read_json(rel)
    readiness = probes.get("readiness") if isinstance(probes.get("readiness"), dict) else {}
    liveness = probes.get("liveness") if isinstance(probes.get("liveness"), dict) else {}
    port = listen_port()
    path = liveness.get("path") if isinstance(liveness.get("path"), str) and liveness.get("path") else HEALTH_PATH
    wrong = {}
    if port is not None and readiness.get("port") != port:
        wrong["port"] = {"is": readiness.get("port"), "should_be": port}
    if readiness.get("path") != path:
        wrong["path"] = {"is": readiness.get("path"), "should_be": path}
    lines = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines() if FAILED.search(line)]
    present = health.returncode != 0 and bool(wrong)
    out.update({"readiness": readiness, "listen_port": port, "health_path": path, "wrong": wrong,
                "fault_present": present})
    if present:
        facts = ["%s: readiness.%s is %r, should be %r" % (rel, key, v["is"], v["should_be"]) for key, v in wrong.items()]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": rel, "evidence": lines[-1:] + facts}
        out["fix"] = {key: v["should_be"] for key, v in wrong.items()}
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
