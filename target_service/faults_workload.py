"""The workload's healthy files (what supervisor.py reads before it starts the app), and the
helpers the workload fault classes (fault_scaled_to_zero.py, fault_bad_release.py,
fault_crash_loop.py, fault_resource_limit.py) share to write them.

Healthy state: etc/deployment.json (1 replica), two installed releases under opt/releases with
the last one current in etc/release.json, etc/entrypoint.sh (+ its packaged copy
etc/entrypoint.sh.default, running the hooks in etc/entrypoint.d/) and etc/limits.json (a
256Mi memory limit). A fault class may move any of them: etc/service.json then names the
location (`deployment`, `autoscaler`, `release_file`, `releases_dir`, `entrypoint`,
`limits_file`), which is what the supervisor reads.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

if __package__:  # imported as target_service.faults_workload (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout

GOOD_RELEASES = ("v1.4.1", "v1.4.2")          # installed; the last one is current
BAD_RELEASE = "v1.5.0"
IMAGE = "registry.local/target-service:%s"
MEMORY_LIMIT = "256Mi"                        # healthy limit; the app peaks at ~40 MiB
HOOKS_DIR = "etc/entrypoint.d"
# Locations in etc/service.json that the supervisor reads (key -> healthy default).
LOCATION_KEYS = {"deployment": layout.DEPLOYMENT_JSON, "release_file": layout.RELEASE_JSON,
                 "releases_dir": layout.RELEASES_DIR, "entrypoint": layout.ENTRYPOINT,
                 "limits_file": layout.LIMITS_JSON}
HANDOVER = 'exec "$@"\n'


def host_platform() -> str:
    """linux/<arch> of this machine, in container-image terms (amd64, arm64, ...)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return "linux/%s" % arch


def other_platform() -> str:
    return "linux/amd64" if host_platform() == "linux/arm64" else "linux/arm64"


def svc_path(params: Mapping[str, Any], value: Optional[str]) -> str:
    """`value` with {svc} replaced by the incident's service name."""
    return str(value or "").replace("{svc}", str(params.get("service") or "checkout"))


def set_locations(root: Path, **locations: str) -> None:
    """Point the supervisor at these locations (etc/service.json keys)."""
    config = core.read_service_json(root)
    config.update(locations)
    core.write_service_json(root, config)


def remove(root: Path, rel: str) -> None:
    path = Path(root) / rel
    if path.is_file() or path.is_symlink():
        path.unlink()


def write_release(root: Path, releases_dir: str, release: str, platform_name: str,
                  image: str, extra: Optional[Dict[str, Any]] = None) -> None:
    manifest = {"release": release, "image": image, "platform": platform_name}
    manifest.update(extra or {})
    core.write_file(Path(root) / releases_dir / release / "manifest.json",
                    json.dumps(manifest, indent=2) + "\n")


def entrypoint_script(packaged: str, hooks_dir: str, service: str = "the service") -> str:
    """The packaged entrypoint: init steps (each through `step`, which reports a failing step),
    the hooks in `hooks_dir`, then the hand-over to the app (the last line)."""
    return """#!/bin/sh
# Entrypoint of %(service)s. The supervisor runs `sh <this file> <app command...>` in the
# service root: init steps first, then the last line hands over to the app.
# Site-specific init steps go into %(hooks)s/*.sh (run in name order).
# Packaged copy: %(packaged)s (restore it with cp, then restart the service).
set -e
step() {
    name=$1; shift
    "$@" || { rc=$?; echo "entrypoint: init step '$name' failed with exit code $rc" >&2; exit $rc; }
}
step check-config test -r etc/service.json
for hook in %(hooks)s/*.sh; do
    [ -e "$hook" ] || continue
    step "$hook" sh "$hook"
done
""" % {"service": service, "hooks": hooks_dir, "packaged": packaged} + HANDOVER


@core.register_layout
def _healthy_workload(root: Path, scenario_id: str) -> None:
    core.write_file(root / layout.DEPLOYMENT_JSON, json.dumps({"replicas": 1}, indent=2) + "\n")
    for release in GOOD_RELEASES:
        write_release(root, layout.RELEASES_DIR, release, host_platform(), IMAGE % release)
    history = [{"revision": i + 1, "release": r, "image": IMAGE % r}
               for i, r in enumerate(GOOD_RELEASES)]
    core.write_file(root / layout.RELEASE_JSON,
                    json.dumps({"current": GOOD_RELEASES[-1], "history": history}, indent=2) + "\n")
    script = entrypoint_script(layout.ENTRYPOINT_DEFAULT, HOOKS_DIR)
    for rel in (layout.ENTRYPOINT, layout.ENTRYPOINT_DEFAULT):
        core.write_file(root / rel, script)
    (root / HOOKS_DIR).mkdir(parents=True, exist_ok=True)
    limits = {"container": "app", "resources": {"limits": {"memory": MEMORY_LIMIT, "cpu": "500m"},
                                                "requests": {"memory": "64Mi", "cpu": "100m"}}}
    core.write_file(root / layout.LIMITS_JSON, json.dumps(limits, indent=2) + "\n")


def clear_healthy_workload(root: Path, *which: str) -> None:
    """Remove the healthy layout's files of these parts (deployment, release, entrypoint,
    limits), for a fault class that writes its own at the locations it draws."""
    root = Path(root)
    if "deployment" in which:
        remove(root, layout.DEPLOYMENT_JSON)
    if "release" in which:
        remove(root, layout.RELEASE_JSON)
        for release in GOOD_RELEASES:
            remove(root, "%s/%s/manifest.json" % (layout.RELEASES_DIR, release))
            try:
                (root / layout.RELEASES_DIR / release).rmdir()
            except OSError:
                pass
    if "entrypoint" in which:
        remove(root, layout.ENTRYPOINT)
        remove(root, layout.ENTRYPOINT_DEFAULT)
    if "limits" in which:
        remove(root, layout.LIMITS_JSON)
