#!/usr/bin/env python3
"""Diagnose a current release that cannot run, and pick the last known good one (JSON on stdout).

Finds the release file and the releases dir from etc/service.json, checks every release in the
rollout history (installed? built for this host?), and picks the newest earlier revision that
can run - skipping other broken rollouts. Installed releases that were never rolled out
(staged) are reported, never chosen. Acts only through `targetctl` (list arguments, no shell).
Importable: `diagnose() -> dict`.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # .agents/skills: the shared _lib
from _lib.targetctl import read_json, safe, targetctl  # noqa: E402

SERVICE_JSON = "etc/service.json"
DEFAULT_RELEASE_FILE = "etc/release.json"
DEFAULT_RELEASES_DIR = "opt/releases"
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
EVIDENCE = re.compile(r"is not runnable|ImagePullBackOff|exec format error|manifest unknown")


def host_platform() -> str:
    machine = targetctl("exec", "uname", "-m").stdout.strip().lower()
    return "linux/%s" % ARCH.get(machine, machine)


def release_problem(releases_dir: str, release: str, platform: str):
    """None when the release is installed and built for this platform."""
    if not RELEASE_NAME.match(release or ""):
        return "invalid release name %r" % release
    shown = targetctl("exec", "cat", "%s/%s/manifest.json" % (releases_dir, release))
    if shown.returncode != 0:
        return "not installed (%s/%s/manifest.json missing)" % (releases_dir, release)
    try:
        built_for = json.loads(shown.stdout).get("platform")
    except (ValueError, AttributeError):
        return "manifest is not valid JSON"
    if built_for != platform:
        return "built for %s, host is %s" % (built_for, platform)
    return None


def diagnose() -> dict:
    health = targetctl("status")
    out = {"check": "release", "healthy": health.returncode == 0, "health": health.stdout.strip()[-300:]}
    config = read_json(SERVICE_JSON) or {}
    release_file = config.get("release_file") or DEFAULT_RELEASE_FILE
    releases_dir = config.get("releases_dir") or DEFAULT_RELEASES_DIR
    if not safe(release_file) or not safe(releases_dir):
        return {**out, "error": "unsafe path in %s" % SERVICE_JSON, "fault_present": False}
    data = read_json(release_file)
    if not isinstance(data, dict):
        return {**out, "error": "cannot read %s" % release_file, "fault_present": False}
    current, history = str(data.get("current")), [h for h in data.get("history") or [] if isinstance(h, dict)]
    platform = host_platform()
    problem = release_problem(releases_dir, current, platform)
    checked, rollback = [], None
    for entry in sorted(history, key=lambda h: h.get("revision", 0), reverse=True):
        release = str(entry.get("release"))
        if release == current or any(c["release"] == release for c in checked):
            continue
        why = release_problem(releases_dir, release, platform)
        checked.append({"revision": entry.get("revision"), "release": release, "problem": why})
        if why is None and rollback is None and problem:
            rollback = release
    installed = targetctl("exec", "ls", "-1", releases_dir).stdout.split()
    in_history = {str(h.get("release")) for h in history}
    log = targetctl("logs", "-n", "200").stdout.splitlines()
    evidence = [line.strip() for line in log if EVIDENCE.search(line)][-2:]
    present = health.returncode != 0 and problem is not None
    out.update({"release_file": release_file, "releases_dir": releases_dir, "current": current,
                "host_platform": platform, "current_problem": problem, "earlier_revisions": checked,
                "installed": installed,
                "installed_never_rolled_out": [r for r in installed if r not in in_history],
                "rollback_to": rollback, "fault_present": present})
    if present:
        out["diagnosis"] = {"fault_class": "bad_release", "entity": current,
                            "evidence": evidence + ["%s: current %s is %s" % (release_file, current, problem)]}
    return out


if __name__ == "__main__":
    print(json.dumps(diagnose(), indent=2))
    sys.exit(0)
