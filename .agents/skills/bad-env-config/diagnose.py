#!/usr/bin/env python3
"""Diagnose a required setting missing or unusable in etc/service.env (JSON on stdout).

Searches: the log's configuration errors (`required setting KEY missing/empty ...`, `setting
KEY=VALUE in etc/service.env ...`), etc/service.env and the documented settings in
etc/service.env.example (uncommented KEY=VALUE lines there are the required ones, with their
documented values). The entity is the setting's KEY. Optional settings (commented in the example,
e.g. TRACE_SAMPLE_RATE) and backups such as etc/service.env.bak are not the cause.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import parse_env, targetctl  # noqa: E402

CLASS_ID = "bad_env_config"
ENV, EXAMPLE = "etc/service.env", "etc/service.env.example"
LOGGED = re.compile(r"(?:required setting ([A-Z][A-Z0-9_]*) (?:missing from|is empty in) etc/service\.env"
                    r"|setting ([A-Z][A-Z0-9_]*)=.* in etc/service\.env )")


def diagnose() -> dict:
    health = targetctl("status")
    env = parse_env(targetctl("exec", "cat", ENV).stdout)
    documented = parse_env(targetctl("exec", "cat", EXAMPLE).stdout)
    lines = [line.strip() for line in targetctl("logs", "-n", "200").stdout.splitlines()
             if LOGGED.search(line)]
    named = None
    if lines:
        match = LOGGED.search(lines[-1])
        named = match.group(1) or match.group(2)
    differs = {key: env.get(key) for key, value in documented.items() if env.get(key) in (None, "")}
    entity = named if named in documented else next(iter(differs), None)
    present = health.returncode != 0 and entity is not None and (
        entity in differs or (named == entity and env.get(entity) != documented.get(entity)))
    out = {"check": "bad-env-config", "healthy": health.returncode == 0,
           "health": health.stdout.strip()[-300:], "logged_setting": named,
           "missing_or_empty": sorted(differs), "fault_present": present}
    if present:
        current = env.get(entity)
        evidence = lines[-1:] + ["%s in %s: %s; documented value: %s" % (
            entity, ENV, "absent" if current is None else repr(current), documented[entity])]
        out["diagnosis"] = {"fault_class": CLASS_ID, "entity": entity, "evidence": evidence}
        out["documented_value"] = documented[entity]
    return out


def main(argv: list[str]) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
