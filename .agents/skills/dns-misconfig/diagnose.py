#!/usr/bin/env python3
"""Why does the service's resolver not find its database host? (JSON on stdout)

Searches instead of assuming: the resolver file comes from the failed-lookup log line
(`could not translate host name "<host>" to address: ... resolver <path>)`) or etc/service.json
(`resolv_conf`, default etc/dns/resolv.conf); the packaged settings from the file named in the
resolver's `# Packaged default: <path>` header (else `<resolver>.default`); the nameservers that
answer from var/lib/dns/<address>.hosts. Other resolver files (other components, backups) are
listed as NOT a source. Acts only through `targetctl` (list arguments, never a shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.script import print_result  # noqa: E402
from _lib.targetctl import cat_json, targetctl  # noqa: E402

DEFAULT_RESOLVER = "etc/dns/resolv.conf"
ZONES = "var/lib/dns"
FAILED = re.compile(r'could not translate host name "([^"]+)" to address: .*resolver ([^)\s]+)\)')
PACKAGED = re.compile(r"^#\s*Packaged default:\s*(\S+)", re.M)


def settings(text: str) -> dict:
    found = {"nameserver": [], "search": []}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"]:
            found["nameserver"] += words[1:2]
        elif words[:1] in (["search"], ["domain"]):
            found["search"] = words[1:]
    return found


def diagnose() -> dict:
    health = targetctl("status")
    config = cat_json("etc/service.json", {})
    logs = targetctl("logs", "-n", "200").stdout
    failures = [line.strip() for line in logs.splitlines() if FAILED.search(line)]
    last = FAILED.search(failures[-1]) if failures else None
    resolver = last.group(2) if last else (config.get("resolv_conf") or DEFAULT_RESOLVER)
    current = targetctl("exec", "cat", resolver)
    header = PACKAGED.search(current.stdout)
    packaged_path = header.group(1) if header else resolver + ".default"
    packaged = targetctl("exec", "cat", packaged_path)
    answering = sorted(name[:-len(".hosts")] for name in
                       targetctl("exec", "ls", "-1", ZONES).stdout.split() if name.endswith(".hosts"))
    now = settings(current.stdout)
    known_good = settings(packaged.stdout) if packaged.returncode == 0 else None
    others = [p for p in targetctl("exec", "find", "etc", "-type", "f", "-name", "*resolv*").stdout.split()
              if p not in (resolver, packaged_path)]
    differences = []
    if known_good is not None:
        for key in ("nameserver", "search"):
            if now[key] != known_good[key]:
                differences.append(f"{key}: {' '.join(now[key]) or '(none)'} "
                                   f"(packaged: {' '.join(known_good[key]) or '(none)'})")
    dead = [ns for ns in now["nameserver"] if ns not in answering]
    unhealthy = health.returncode != 0
    result = {
        "check": "dns-misconfig",
        "healthy": not unhealthy,
        "health": health.stdout.strip()[-400:],
        "resolver_file": resolver,
        "resolver": now,
        "packaged_file": packaged_path if known_good is not None else None,
        "packaged_resolver": known_good,
        "answering_nameservers": answering,
        "nameservers_without_answer": dead,
        "differences": differences,
        "other_resolver_files_not_a_source": others,
        "lookup_failures_in_log": len(failures),
        "fault_present": unhealthy and bool(failures) and bool(differences),
    }
    if result["fault_present"]:
        result["diagnosis"] = {
            "fault_class": "dns_misconfig",
            "entity": resolver,
            "evidence": [failures[-1]] + [f"{resolver}: {d}" for d in differences]
                        + [f"no zone data for nameserver {ns} (answering: {', '.join(answering)})"
                           for ns in dead],
        }
    return result


def main(argv: list) -> int:
    return print_result(diagnose())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
