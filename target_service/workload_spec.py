"""What the supervisor reads before it starts the app (stdlib only, Python >= 3.9): the workload.

read_workload(root) -> (argv, extra environment) of the next app start, or WorkloadError when it must
not start: the deployment's desired replicas (after its autoscaler's bounds), the cluster's
scheduling/admission (scheduler.py), the current release (installed? built for this CPU?), the
memory limit and the entrypoint. Locations come from etc/service.json, with the root layout's paths
as defaults.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

if __package__:  # imported from the repo; flat in /app (and run as a script) otherwise
    from . import scheduler
else:
    import scheduler

APP_SCRIPT = Path(__file__).resolve().with_name("app.py")
SERVICE_JSON = "etc/service.json"
DEPLOYMENT_JSON = "etc/deployment.json"
RELEASE_JSON = "etc/release.json"
RELEASES_DIR = "opt/releases"
ENTRYPOINT = "etc/entrypoint.sh"
LIMITS_JSON = "etc/limits.json"
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class WorkloadError(Exception):
    """Why the app is not started: a state name for var/run/supervisor.state, the message, and
    whether the supervisor retries on its own (backoff) or waits for the next restart."""

    def __init__(self, state: str, message: str, retry: bool) -> None:
        super().__init__(message)
        self.state = state
        self.retry = retry


def host_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return "linux/%s" % arch


def _load_json(root: Path, rel: str, default: Any) -> Any:
    try:
        return json.loads((root / rel).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise WorkloadError("config_error", "%s is not valid JSON: %s" % (rel, exc), False)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _location(config: Dict[str, Any], key: str, default: Optional[str]) -> Optional[str]:
    """A root-relative path configured in etc/service.json under `key` (else `default`)."""
    rel = config.get(key, default)
    if rel is None:
        return None
    if not isinstance(rel, str) or not rel.strip() or rel.startswith("/") or ".." in rel.split("/"):
        raise WorkloadError("config_error", "%s in %s must be a path relative to the service root, "
                            "got %r" % (key, SERVICE_JSON, rel), False)
    return rel


def _service_config(root: Path) -> Dict[str, Any]:
    config = _load_json(root, SERVICE_JSON, {})
    return config if isinstance(config, dict) else {}


def _desired_replicas(root: Path, config: Dict[str, Any]) -> None:
    """Raise when the deployment (after its autoscaler's bounds) wants no instance."""
    rel = _location(config, "deployment", DEPLOYMENT_JSON)
    deployment = _load_json(root, rel, {})
    if not isinstance(deployment, dict):
        deployment = {}
    spec = deployment.get("spec") if isinstance(deployment.get("spec"), dict) else None
    field, replicas = ("spec.replicas", spec.get("replicas", 1)) if spec is not None else \
        ("replicas", deployment.get("replicas", 1))
    if not _whole(replicas):
        raise WorkloadError("config_error", "%s in %s must be a whole number >= 0, got %r"
                            % (field, rel, replicas), False)
    name = ((deployment.get("metadata") or {}).get("name") if isinstance(deployment.get("metadata"), dict)
            else None) or config.get("service") or "app"
    why = "%s: %d in %s" % (field, replicas, rel)
    desired = replicas
    scaler_rel = _location(config, "autoscaler", None)
    scaler = _load_json(root, scaler_rel, None) if scaler_rel else None
    if isinstance(scaler, dict):
        bounds = scaler.get("spec") if isinstance(scaler.get("spec"), dict) else scaler
        low, high = bounds.get("minReplicas"), bounds.get("maxReplicas")
        for key, value in (("minReplicas", low), ("maxReplicas", high)):
            if value is not None and not _whole(value):
                raise WorkloadError("config_error", "spec.%s in %s must be a whole number >= 0, got %r"
                                    % (key, scaler_rel, value), False)
        if low is not None and desired < low:
            desired, why = low, why + ", raised by minReplicas: %d in %s" % (low, scaler_rel)
        if high is not None and desired > high:
            desired, why = high, why + ", capped by maxReplicas: %d in %s" % (high, scaler_rel)
    if desired == 0:
        raise WorkloadError("config_error", "deployment %s has 0 desired replicas (%s); "
                            "0/0 instances ready, no app instance is started" % (name, why), False)


def _check_release(root: Path, config: Dict[str, Any]) -> Optional[str]:
    """The release to run (None when the root has no release file)."""
    rel = _location(config, "release_file", RELEASE_JSON)
    releases = _location(config, "releases_dir", RELEASES_DIR)
    data = _load_json(root, rel, None)
    if data is None:
        return None
    current = data.get("current") if isinstance(data, dict) else None
    if not isinstance(current, str) or not RELEASE_NAME.match(current):
        raise WorkloadError("config_error", "current release in %s must be a release name, got %r"
                            % (rel, current), False)
    images = [h.get("image") for h in data.get("history") or []
              if isinstance(h, dict) and h.get("release") == current]
    image = images[-1] if images and images[-1] else current
    manifest_rel = "%s/%s/manifest.json" % (releases, current)
    if not (root / manifest_rel).exists():
        raise WorkloadError("release_error", "release %s (current in %s) is not runnable: image %s "
                            "not found (manifest unknown; %s/%s is not installed); ImagePullBackOff"
                            % (current, rel, image, releases, current), True)
    manifest = _load_json(root, manifest_rel, {})
    built_for = manifest.get("platform") if isinstance(manifest, dict) else None
    if built_for != host_platform():
        raise WorkloadError("release_error", "release %s (current in %s) is not runnable: image %s is "
                            "built for %s but this host is %s: exec format error"
                            % (current, rel, image, built_for, host_platform()), True)
    return current


def parse_quantity(value: Any) -> Optional[float]:
    """A memory quantity (Kubernetes style: 256Mi, 0.25Gi, 300M, 262144Ki, bytes) in MiB."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) / (1024 * 1024) if value > 0 else None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$", str(value))
    if not match:
        return None
    scale = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1000,
             "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}[match.group(2)]
    mib = float(match.group(1)) * scale / (1024 * 1024)
    return mib if mib > 0 else None


def _memory_limit(root: Path, config: Dict[str, Any]) -> Dict[str, str]:
    """Environment for the app's memory limit from the limits file (empty when none is set)."""
    rel = _location(config, "limits_file", LIMITS_JSON)
    limits = _load_json(root, rel, {})
    if not isinstance(limits, dict):
        return {}
    if "memory_mb" in limits:  # flat form: {"memory_mb": 256}
        memory = limits.get("memory_mb")
        if not isinstance(memory, int) or isinstance(memory, bool) or memory <= 0:
            raise WorkloadError("config_error", "memory_mb in %s must be a whole number > 0, got %r"
                                % (rel, memory), False)
        return {"SERVICE_MEMORY_LIMIT_MB": str(memory),
                "SERVICE_MEMORY_LIMIT_SOURCE": "%d MB (memory_mb in %s)" % (memory, rel)}
    resources = limits.get("resources") if isinstance(limits.get("resources"), dict) else {}
    raw = (resources.get("limits") or {}).get("memory") if isinstance(resources.get("limits"), dict) else None
    if raw is None:
        return {}
    mib = parse_quantity(raw)
    if mib is None:
        raise WorkloadError("config_error", "resources.limits.memory in %s must be a quantity like "
                            "256Mi, got %r" % (rel, raw), False)
    return {"SERVICE_MEMORY_LIMIT_MB": "%.3f" % mib,
            "SERVICE_MEMORY_LIMIT_SOURCE": "%s (resources.limits.memory in %s)" % (raw, rel)}


def read_workload(root: Path) -> Tuple[List[str], Dict[str, str]]:
    """(argv, extra environment) of the next app start; WorkloadError when it must not start.
    Locations come from etc/service.json (deployment, autoscaler, release_file, releases_dir,
    entrypoint, limits_file), with the root layout's paths as defaults."""
    config = _service_config(root)
    _desired_replicas(root, config)
    waiting = scheduler.pending(root)  # the cluster's scheduler/admission (scheduler.py)
    if waiting:
        raise WorkloadError("pending", "; ".join(waiting), True)
    env = {}
    release = _check_release(root, config)
    if release:
        env["SERVICE_RELEASE"] = release
    env.update(_memory_limit(root, config))
    app = [sys.executable, str(APP_SCRIPT), "--root", str(root)]
    entrypoint = _location(config, "entrypoint", ENTRYPOINT)
    return (["sh", entrypoint] + app if (root / entrypoint).exists() else app), env
