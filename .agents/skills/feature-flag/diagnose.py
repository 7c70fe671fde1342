#!/usr/bin/env python3
"""Find the flag whose evaluation is breaking requests (JSON on stdout).

Searches instead of assuming: the flag sources come from etc/service.json (`flag_sources`,
default etc/flags.json), the culprit from the service log (`flag '<name>' evaluated to variant
'<v>' (flag source <file>)` on the affected requests) cross-checked against the source file.
Flags that are on but never show up in the log (product experiments) are reported, not blamed.
Acts only through `targetctl` (list arguments, never a shell). Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import read_json, targetctl  # noqa: E402

DEFAULT_SOURCE = "etc/flags.json"
EVALUATED = re.compile(r"flag '([^']+)' evaluated to variant '([^']*)' \(flag source ([^)\s]+)\)")


def evaluate(flag) -> tuple[bool, str]:
    """flagd semantics: on when ENABLED and the default variant is not 'off' and truthy."""
    if not isinstance(flag, dict) or flag.get("state") != "ENABLED":
        return False, "off"
    variant = str(flag.get("defaultVariant"))
    return variant != "off" and bool((flag.get("variants") or {}).get(variant)), variant


def flag_sources() -> list[str]:
    config = read_json("etc/service.json") or {}
    raw = config.get("flag_sources") if isinstance(config, dict) else None
    found = [s for s in raw if isinstance(s, str) and s.strip()] if isinstance(raw, list) else []
    return found or [DEFAULT_SOURCE]


def diagnose() -> dict:
    health = targetctl("status")
    logs = targetctl("logs", "-n", "200").stdout
    named: dict[tuple[str, str], str] = {}  # (flag, source) -> last log line naming it
    for line in logs.splitlines():
        match = EVALUATED.search(line)
        if match:
            named[(match.group(1), match.group(3))] = line.strip()
    sources = flag_sources()
    for _flag, source in named:
        if source not in sources:
            sources.append(source)
    flags_on, errors = [], []
    for source in sources:
        data = read_json(source)
        if not isinstance(data, dict):
            errors.append(f"cannot read flag source {source}")
            continue
        for name, flag in sorted((data.get("flags") or {}).items()):
            on, variant = evaluate(flag)
            if on:
                flags_on.append({"flag": name, "variant": variant, "source": source,
                                 "in_log": (name, source) in named})
    culprits = [f for f in flags_on if f["in_log"]]
    unhealthy = health.returncode != 0
    result = {
        "check": "feature-flag",
        "healthy": not unhealthy,
        "health": health.stdout.strip()[-400:],
        "flag_sources": sources,
        "flags_on": flags_on,
        "not_implicated": [f["flag"] for f in flags_on if not f["in_log"]],
        "errors": errors,
        "fault_present": unhealthy and bool(culprits),
    }
    if result["fault_present"]:
        culprit = culprits[0]
        result["culprit"] = culprit
        result["diagnosis"] = {
            "fault_class": "feature_flag",
            "entity": culprit["flag"],
            "evidence": [named[(culprit["flag"], culprit["source"])],
                         f"{culprit['source']}: flag {culprit['flag']} state ENABLED, "
                         f"defaultVariant {culprit['variant']!r}",
                         health.stdout.strip().splitlines()[0] if health.stdout.strip() else "no answer"],
        }
    return result


def main(argv: list) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
