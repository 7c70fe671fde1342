"""Faults that keep the app from running at all: scaled to zero, a release that cannot run, a
start command that fails, a memory limit below the app's working set.

Healthy state: etc/deployment.json (1 replica), two installed releases under opt/releases with
the last one current in etc/release.json, etc/entrypoint.sh (+ .default) and etc/limits.json
(+ .default). supervisor.py reads them before it starts the app; app.py enforces the memory
limit. All four faults are registered with keeps_app_down=True: no app pid ever appears, so a
backend waits for the supervisor's decision instead.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

if __package__:  # imported as target_service.faults_workload (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout

GOOD_RELEASES = ("v1.4.1", "v1.4.2")          # installed; the last one is current
BAD_RELEASE = "v1.5.0"
IMAGE = "registry.local/target-service:%s"
MEMORY_LIMIT_MB = 256                         # documented limit; the app peaks at ~40 MB
TOO_LOW_MEMORY_MB = 16
DEFAULT_ENTRYPOINT = """#!/bin/sh
# Service entrypoint. The supervisor runs `sh etc/entrypoint.sh <app command...>` in the service
# root: init steps first, then the last line hands over to the app.
# Packaged version: etc/entrypoint.sh.default (restore it with cp, then restart the service).
set -e
test -r etc/service.json || { echo "entrypoint: etc/service.json is missing" >&2; exit 1; }
exec "$@"
"""
CRASH_VARIANTS = ("crash", "invalid_command", "hang")
# Init steps a bad change adds to the entrypoint (inserted before the final `exec "$@"`).
_CRASH_INIT = ("# init: load the feature toggles (added by the last change)\n"
               "python3 -c 'import json; json.load(open(\"etc/features.json\"))'\n")
_HANG_INIT = ("# init: wait for the database schema migration (added by the last change)\n"
              "echo \"init: waiting for var/lib/db/schema.migrated\" >&2\n"
              "until test -e var/lib/db/schema.migrated; do sleep 1; done\n")


def host_platform() -> str:
    """linux/<arch> of this machine, in container-image terms (amd64, arm64, ...)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return "linux/%s" % arch


def _write_release(root: Path, release: str, platform_name: str) -> None:
    manifest = {"release": release, "image": IMAGE % release, "platform": platform_name}
    core.write_file(root / layout.RELEASES_DIR / release / "manifest.json",
                    json.dumps(manifest, indent=2) + "\n")


@core.register_layout
def _healthy_workload(root: Path, scenario_id: str) -> None:
    core.write_file(root / layout.DEPLOYMENT_JSON, json.dumps({"replicas": 1}, indent=2) + "\n")
    for release in GOOD_RELEASES:
        _write_release(root, release, host_platform())
    history = [{"revision": i + 1, "release": r, "image": IMAGE % r}
               for i, r in enumerate(GOOD_RELEASES)]
    core.write_file(root / layout.RELEASE_JSON,
                    json.dumps({"current": GOOD_RELEASES[-1], "history": history}, indent=2) + "\n")
    for rel in (layout.ENTRYPOINT, layout.ENTRYPOINT_DEFAULT):
        core.write_file(root / rel, DEFAULT_ENTRYPOINT)
    limits = json.dumps({"memory_mb": MEMORY_LIMIT_MB,
                         "note": "sized for the service's peak working set (~40 MB) with headroom"},
                        indent=2) + "\n"
    for rel in (layout.LIMITS_JSON, layout.LIMITS_DEFAULT):
        core.write_file(root / rel, limits)


@core.register_fault("scaled_to_zero", keeps_app_down=True)
def _scaled_to_zero(ctx: core.FaultContext) -> None:
    """etc/deployment.json says replicas 0: the supervisor keeps no app instance running."""
    path = ctx.root / layout.DEPLOYMENT_JSON
    core.write_json(path, {**core.read_json(path), "replicas": 0})


@core.register_fault("bad_release", keeps_app_down=True)
def _bad_release(ctx: core.FaultContext) -> None:
    """A new release (v1.5.0) is rolled out that cannot run; the previous ones stay installed
    and in the history of etc/release.json. params: variant = "missing" (no such image/release,
    default) or "arch" (the image is built for another CPU architecture)."""
    variant = str(core.param(ctx, "variant", "missing"))
    if variant not in ("missing", "arch"):
        raise ValueError("bad_release variant must be 'missing' or 'arch', got %r" % variant)
    if variant == "arch":
        other = "linux/amd64" if host_platform() == "linux/arm64" else "linux/arm64"
        _write_release(ctx.root, BAD_RELEASE, other)
    path = ctx.root / layout.RELEASE_JSON
    data = core.read_json(path)
    data["history"].append({"revision": len(data["history"]) + 1, "release": BAD_RELEASE,
                            "image": IMAGE % BAD_RELEASE})
    data["current"] = BAD_RELEASE
    core.write_json(path, data)


@core.register_fault("crash_loop", keeps_app_down=True)
def _crash_loop(ctx: core.FaultContext) -> None:
    """A change to the start command (etc/entrypoint.sh) stops the app from starting; the
    packaged version is etc/entrypoint.sh.default. params: variant = "crash" (an init step
    crashes on a malformed config, default), "invalid_command" (the app is started with an
    argument it rejects) or "hang" (an init step waits forever)."""
    variant = str(core.param(ctx, "variant", "crash"))
    if variant not in CRASH_VARIANTS:
        raise ValueError("crash_loop variant must be one of %s, got %r"
                         % (", ".join(CRASH_VARIANTS), variant))
    handover = 'exec "$@"\n'
    script = DEFAULT_ENTRYPOINT
    if variant == "invalid_command":
        script = script.replace(handover, 'exec "$@" --workers auto\n')
    else:
        init = _CRASH_INIT if variant == "crash" else _HANG_INIT
        script = script.replace(handover, init + handover)
    if variant == "crash":
        core.write_file(ctx.root / "etc/features.json",
                        '{"features": {"recommendationCache": true,,}}\n')
    core.write_file(ctx.root / layout.ENTRYPOINT, script)


@core.register_fault("resource_limit", keeps_app_down=True)
def _resource_limit(ctx: core.FaultContext) -> None:
    """etc/limits.json sets memory_mb far below the app's working set: OOM-killed at every
    start (crash loop). etc/limits.json.default keeps the documented limit."""
    path = ctx.root / layout.LIMITS_JSON
    core.write_json(path, {**core.read_json(path), "memory_mb": TOO_LOW_MEMORY_MB})
