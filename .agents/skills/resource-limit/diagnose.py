#!/usr/bin/env python3
"""Diagnose an app memory limit below its working set (OOMKilled at start); JSON on stdout.

Finds the limits file from etc/service.json, parses the app's memory limit (256Mi, 300M,
262144Ki, 0.25Gi, memory_mb), reads the working set the OOM kills report in the log, and
proposes a limit with headroom. Other containers' limits files beside it and the CPU limit are
reported, never changed. Acts only through `targetctl` (list arguments, never a shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.targetctl import read_json, safe, targetctl  # noqa: E402

SERVICE_JSON = "etc/service.json"
DEFAULT_LIMITS = "etc/limits.json"
OOM = re.compile(r"OOMKilled: working set (\d+(?:\.\d+)?) MiB exceeds the memory limit")
EVIDENCE = re.compile(r"OOMKilled|exited with code 137")
MIN_MIB = 256


def mib(value):
    """A memory quantity in MiB (None if it is not one)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value / 1048576.0
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$", str(value))
    if not match:
        return None
    scale = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1000,
             "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}[match.group(2)]
    return float(match.group(1)) * scale / 1048576.0


def memory_limit(doc):
    """(field, raw value, MiB) of the app's memory limit in a limits document."""
    if not isinstance(doc, dict):
        return None, None, None
    if "memory_mb" in doc:
        raw = doc["memory_mb"]
        return "memory_mb", raw, (raw * 1000000 / 1048576.0) if isinstance(raw, (int, float)) else None
    limits = ((doc.get("resources") or {}).get("limits") or {}) if isinstance(doc.get("resources"), dict) else {}
    raw = limits.get("memory") if isinstance(limits, dict) else None
    return "resources.limits.memory", raw, mib(raw)


def diagnose() -> dict:
    health = targetctl("status")
    out = {"check": "memory-limit", "healthy": health.returncode == 0, "health": health.stdout.strip()[-300:]}
    config = read_json(SERVICE_JSON) or {}
    limits_file = config.get("limits_file") or DEFAULT_LIMITS
    if not safe(limits_file):
        return {**out, "error": "unsafe limits_file in %s" % SERVICE_JSON, "fault_present": False}
    doc = read_json(limits_file)
    field, raw, limit_mib = memory_limit(doc)
    cpu = (((doc or {}).get("resources") or {}).get("limits") or {}).get("cpu") if isinstance(doc, dict) else None
    log = targetctl("logs", "-n", "200").stdout.splitlines()
    peaks = [float(m.group(1)) for m in map(OOM.search, log) if m]
    evidence = [line.strip() for line in log if EVIDENCE.search(line)][-2:]
    working_set = max(peaks) if peaks else None
    directory = limits_file.rsplit("/", 1)[0] if "/" in limits_file else "."
    others = []
    for name in targetctl("exec", "ls", "-1", directory).stdout.split():
        rel = "%s/%s" % (directory, name)
        if name.endswith(".json") and rel != limits_file:
            other = read_json(rel)
            if isinstance(other, dict) and ("resources" in other or "memory_mb" in other):
                others.append({"path": rel, "container": other.get("container"),
                               "memory": memory_limit(other)[1]})
    too_low = limit_mib is not None and ((working_set is not None and limit_mib < working_set)
                                         or (working_set is None and limit_mib < 64))
    proposed = None
    if too_low:
        need = max(MIN_MIB, 2 * (working_set or 0))
        proposed = "%dMi" % (2 ** math.ceil(math.log2(need)))
    present = health.returncode != 0 and too_low
    out.update({"limits_file": limits_file, "container": (doc or {}).get("container") if isinstance(doc, dict) else None,
                "field": field, "memory_limit": raw, "memory_limit_mib": None if limit_mib is None else round(limit_mib, 1),
                "cpu_limit_kept": cpu, "working_set_mib": working_set, "proposed_limit": proposed,
                "other_limits_left_alone": others, "fault_present": present})
    if present:
        out["diagnosis"] = {"fault_class": "resource_limit", "entity": limits_file,
                            "evidence": evidence + ["%s: %s is %s (%.0f MiB), working set %s MiB"
                                                    % (limits_file, field, raw, limit_mib, working_set)]}
    return out


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
