"""The platform operations behind /ops/* (ops_api.py): what a deployment platform knows and does.

Stdlib only (it runs inside supervisor.py, also as PID 1 in a container). Every function takes the
service root and reads or changes the same files the app and the supervisor read, through the
locations etc/service.json names. These are generic platform verbs (flags, experiments, releases,
deployment, config, logs), never fault-class names: nothing here knows which incident runs.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

if __package__:
    from . import root_layout as layout
    from .app_traffic import (PAUSE_ANNOTATION, TOGGLE_FLAG, chaos_dir, evaluate, experiment,
                              flag_sources, selects, service_settings)
else:
    import root_layout as layout
    from app_traffic import (PAUSE_ANNOTATION, TOGGLE_FLAG, chaos_dir, evaluate, experiment,
                             flag_sources, selects, service_settings)

SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api[_-]?key|credential|private)", re.I)
MASK = "***"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ACCESS = re.compile(r'"(GET|HEAD|POST) (\S+) HTTP/[\d.]+" (\d{3})')
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
MAX_REPLICAS = 10  # the platform's own bound (etc/service.json `max_replicas` may lower it)


class OpsError(Exception):
    """A refused or impossible operation: HTTP status and what to do instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_json(root: Path, rel: str) -> Any:
    try:
        return json.loads((root / rel).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise OpsError(409, "%s cannot be read as JSON: %s" % (rel, exc))


def _write_json(root: Path, rel: str, data: Any) -> None:
    path = root / rel
    tmp = path.with_name(".%s.ops.tmp" % path.name)
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(str(tmp), str(path))


def _rel(settings: dict, key: str, default: Optional[str]) -> Optional[str]:
    value = settings.get(key, default)
    if not isinstance(value, str) or not value.strip() or value.startswith("/") or ".." in value.split("/"):
        return default
    return value.strip().strip("/")


# --- logs --------------------------------------------------------------------------------------

def log_lines(root: Path, n: int = 100, level: str = "", contains: str = "") -> List[str]:
    """The last `n` lines of the service log that match `level` (ERROR, INFO...) and `contains`."""
    try:
        with open(str(root / layout.LOG_FILE), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 512 * 1024))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    picked = [line for line in lines
              if (not level or (" %s " % level.upper()) in line) and (not contains or contains in line)]
    return picked[-max(1, min(int(n), 2000)):]


def _recent(line: str, since: float) -> bool:
    match = STAMP.match(line)
    if not match:
        return False
    try:
        return time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")) >= since
    except ValueError:
        return False


def traffic(root: Path, window_s: float = 300.0) -> Dict[str, Any]:
    """Request counts of the last `window_s` seconds from the access lines of the log."""
    since = time.time() - window_s
    codes: Dict[str, int] = {}
    for line in log_lines(root, 2000):
        match = ACCESS.search(line)
        if match and match.group(2).split("?")[0] == "/" and _recent(line, since):
            codes[match.group(3)] = codes.get(match.group(3), 0) + 1
    total = sum(codes.values())
    errors = sum(count for code, count in codes.items() if code.startswith("5"))
    return {"window_s": window_s, "requests": total, "by_status": codes,
            "request_rate_per_s": round(total / window_s, 4),
            "error_rate": round(errors / total, 4) if total else 0.0}


# --- config and dependencies ---------------------------------------------------------------------

def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    return MASK if key and SECRET_KEY.search(key) and not str(key).endswith(("_file", "_path")) else value


def sanitized_config(root: Path) -> Dict[str, Any]:
    """etc/service.json and etc/service.env with every secret-looking value masked."""
    env: Dict[str, str] = {}
    try:
        for line in (root / layout.SERVICE_ENV).read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                env[key.strip()] = value.strip()
    except OSError:
        pass
    return {"service_json": _mask(service_settings(root)), "service_env": _mask(env),
            "masked": MASK}


def dependencies(root: Path) -> List[Dict[str, Any]]:
    """What the service talks to: peers and hosts in its settings, with a TCP reachability check
    for host:port addresses (0.3 s each)."""
    found = []
    for key, value in sorted(sanitized_config(root)["service_env"].items()):
        if value == MASK or not re.search(r"(_ADDR|_HOST|_URL)$", key):
            continue
        entry: Dict[str, Any] = {"name": key, "address": value}
        match = re.match(r"^(?:\w+://)?([\w.-]+):(\d+)", value)
        if match and not re.match(r"^(\d+\.\d+\.\d+\.\d+|localhost)$", match.group(1)):
            entry["reachable"], entry["detail"] = None, "not checked (a name: resolved by the service)"
        elif match:
            try:
                socket.create_connection((match.group(1), int(match.group(2))), 0.3).close()
                entry["reachable"] = True
            except OSError as exc:
                entry["reachable"], entry["detail"] = False, str(exc) or type(exc).__name__
        found.append(entry)
    return found


# --- feature flags -------------------------------------------------------------------------------

def _mentions(root: Path, pattern: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for line in log_lines(root, 400):
        for name in re.findall(pattern, line):
            counts[name] = counts.get(name, 0) + 1
    return counts


def list_flags(root: Path, affecting: bool = False) -> List[Dict[str, Any]]:
    """Every flag of every flag source; `affecting`: only those still on that the recent log shows
    affecting requests."""
    seen = _mentions(root, r"flag '([^']+)' evaluated to variant")
    out = []
    for rel in flag_sources(root):
        flags = (_read_json(root, rel) or {}).get("flags") or {}
        for name, flag in sorted(flags.items()) if isinstance(flags, dict) else []:
            on, variant, _value = evaluate(flag)
            entry = {"name": name, "source": rel, "state": (flag or {}).get("state"),
                     "defaultVariant": (flag or {}).get("defaultVariant"), "evaluates_on": on,
                     "variant": variant, "requests_affected_recently": seen.get(name, 0)}
            if not affecting or (on and seen.get(name) and TOGGLE_FLAG.search(name)):
                out.append(entry)
    return sorted(out, key=lambda e: -e["requests_affected_recently"])


def set_flag(root: Path, body: Dict[str, Any]) -> Dict[str, Any]:
    """Set one flag's defaultVariant and/or state in the source that defines it."""
    name = str(body.get("flag") or "")
    variant, state = body.get("defaultVariant"), body.get("state")
    if not name or (variant is None and state is None):
        raise OpsError(400, 'body needs "flag" and "defaultVariant" and/or "state" (ENABLED|DISABLED)')
    if state is not None and state not in ("ENABLED", "DISABLED"):
        raise OpsError(400, "state must be ENABLED or DISABLED, got %r" % state)
    for rel in flag_sources(root):
        doc = _read_json(root, rel) or {}
        flags = doc.get("flags") if isinstance(doc, dict) else None
        if isinstance(flags, dict) and name in flags:
            flag = flags[name]
            if variant is not None:
                if variant not in (flag.get("variants") or {}):
                    raise OpsError(400, "flag %s has no variant %r (variants: %s)"
                                   % (name, variant, ", ".join(flag.get("variants") or {})))
                flag["defaultVariant"] = variant
            if state is not None:
                flag["state"] = state
            _write_json(root, rel, doc)
            on, now, _ = evaluate(flag)
            return {"flag": name, "source": rel, "defaultVariant": flag.get("defaultVariant"),
                    "state": flag.get("state"), "evaluates_on": on, "variant": now}
    raise OpsError(404, "no flag %r in the flag sources (%s)" % (name, ", ".join(flag_sources(root))))


# --- experiments (Chaos Mesh-style schedules) ----------------------------------------------------

def _schedules(root: Path) -> List[Tuple[str, dict]]:
    base = root / chaos_dir(root)
    found = []
    for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("spec"), dict):
            found.append((path.relative_to(root).as_posix(), manifest))
    return found


def list_experiments(root: Path, affecting: bool = False) -> List[Dict[str, Any]]:
    service = str(service_settings(root).get("service") or "service")
    seen = _mentions(root, r"from experiment schedule '([^']+)'")
    out = []
    for rel, manifest in _schedules(root):
        meta = manifest.get("metadata") if isinstance(manifest.get("metadata"), dict) else {}
        kind, body, action = experiment(manifest["spec"])
        paused = str((meta.get("annotations") or {}).get(PAUSE_ANNOTATION)).lower() == "true"
        name = str(meta.get("name") or Path(rel).stem)
        entry = {"name": name, "namespace": meta.get("namespace"), "file": rel, "kind": kind,
                 "action": action, "paused": paused, "selects_this_service": selects(body, service),
                 "requests_affected_recently": seen.get(name, 0)}
        if not affecting or (not paused and entry["selects_this_service"] and seen.get(name)):
            out.append(entry)
    return sorted(out, key=lambda e: -e["requests_affected_recently"])


def change_experiment(root: Path, body: Dict[str, Any], verb: str) -> Dict[str, Any]:
    """pause | resume | delete one schedule (by name, optionally namespace) selecting this service."""
    name, namespace = str(body.get("name") or ""), body.get("namespace")
    matches = [e for e in list_experiments(root) if e["name"] == name
               and (namespace is None or e["namespace"] == namespace)]
    if not name or not matches:
        raise OpsError(404, "no experiment schedule named %r%s (GET /ops/experiments lists them)"
                       % (name, "" if namespace is None else " in namespace %s" % namespace))
    if len(matches) > 1:
        raise OpsError(409, "%d schedules are named %r: give the namespace" % (len(matches), name))
    entry = matches[0]
    if not entry["selects_this_service"]:
        raise OpsError(403, "schedule %s does not select this service; change it through its own "
                       "service's platform" % name)
    if verb == "delete":
        (root / entry["file"]).unlink()
        return {"deleted": entry["file"], "name": name}
    manifest = _read_json(root, entry["file"])
    annotations = manifest.setdefault("metadata", {}).setdefault("annotations", {})
    if verb == "pause":
        annotations[PAUSE_ANNOTATION] = "true"
    else:
        annotations.pop(PAUSE_ANNOTATION, None)
    _write_json(root, entry["file"], manifest)
    return {"name": name, "file": entry["file"], "paused": verb == "pause"}


# --- releases ------------------------------------------------------------------------------------

def _host_platform() -> str:
    import platform

    machine = platform.machine().lower()
    return "linux/%s" % {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _release_files(root: Path) -> Tuple[str, str]:
    settings = service_settings(root)
    return (_rel(settings, "release_file", layout.RELEASE_JSON),
            _rel(settings, "releases_dir", layout.RELEASES_DIR))


def _runnable(root: Path, releases: str, release: str) -> Tuple[bool, str]:
    manifest = _read_json(root, "%s/%s/manifest.json" % (releases, release))
    if not isinstance(manifest, dict):
        return False, "not installed (image not found)"
    built = manifest.get("platform")
    return (built == _host_platform(),
            "installed" if built == _host_platform() else "built for %s, host is %s" % (built, _host_platform()))


def releases(root: Path) -> Dict[str, Any]:
    rel, releases_dir = _release_files(root)
    data = _read_json(root, rel)
    if not isinstance(data, dict):
        raise OpsError(404, "this service has no release history (%s)" % rel)
    current = data.get("current")
    history = []
    for item in data.get("history") or []:
        if isinstance(item, dict):
            ok, why = _runnable(root, releases_dir, str(item.get("release")))
            history.append({"revision": item.get("revision"), "release": item.get("release"),
                            "image": item.get("image"), "runnable": ok, "detail": why,
                            "current": item.get("release") == current})
    candidate = next((h for h in reversed(history) if h["runnable"] and not h["current"]), None)
    ok, why = _runnable(root, releases_dir, str(current))
    return {"release_file": rel, "current": current, "current_runnable": ok, "current_detail": why,
            "history": history, "rollback_candidate": candidate}


def rollback(root: Path, body: Dict[str, Any]) -> Dict[str, Any]:
    """Make a release of the rollout history current again (by revision or release name)."""
    info = releases(root)
    wanted = [h for h in info["history"] if (body.get("revision") is not None and h["revision"] ==
                                             body.get("revision")) or h["release"] == body.get("release")]
    if not wanted:
        raise OpsError(404, "no revision %r / release %r in the rollout history (GET /ops/releases)"
                       % (body.get("revision"), body.get("release")))
    target = wanted[-1]
    if not target["runnable"]:
        raise OpsError(409, "release %s is not runnable (%s); pick another revision"
                       % (target["release"], target["detail"]))
    data = _read_json(root, info["release_file"])
    data["current"] = target["release"]
    _write_json(root, info["release_file"], data)
    return {"current": target["release"], "revision": target["revision"], "previous": info["current"]}


# --- deployment and scaling ----------------------------------------------------------------------

def _applied(doc: Any) -> dict:
    try:
        return json.loads(((doc or {}).get("metadata") or {}).get("annotations", {}).get(LAST_APPLIED) or "{}")
    except (ValueError, AttributeError):
        return {}


def deployment(root: Path) -> Dict[str, Any]:
    settings = service_settings(root)
    rel = _rel(settings, "deployment", layout.DEPLOYMENT_JSON)
    scaler_rel = _rel(settings, "autoscaler", None)
    doc = _read_json(root, rel) or {}
    spec = doc.get("spec") if isinstance(doc.get("spec"), dict) else doc
    replicas = spec.get("replicas", 1) if isinstance(spec, dict) else 1
    desired, source = replicas, {"file": rel, "field": "spec.replicas" if "spec" in doc else "replicas"}
    scaler = _read_json(root, scaler_rel) if scaler_rel else None
    bounds = None
    if isinstance(scaler, dict):
        b = scaler.get("spec") if isinstance(scaler.get("spec"), dict) else scaler
        bounds = {"file": scaler_rel, "minReplicas": b.get("minReplicas"), "maxReplicas": b.get("maxReplicas"),
                  "last_applied": (_applied(scaler).get("spec") or {})}
        if isinstance(b.get("minReplicas"), int) and isinstance(desired, int) and desired < b["minReplicas"]:
            desired, source = b["minReplicas"], {"file": scaler_rel, "field": "spec.minReplicas"}
        if isinstance(b.get("maxReplicas"), int) and isinstance(desired, int) and desired > b["maxReplicas"]:
            desired, source = b["maxReplicas"], {"file": scaler_rel, "field": "spec.maxReplicas"}
    applied = (_applied(doc).get("spec") or {}).get("replicas")
    return {"name": ((doc.get("metadata") or {}).get("name")) or settings.get("service"), "file": rel,
            "replicas": replicas, "last_applied_replicas": applied, "autoscaler": bounds,
            "desired_replicas": desired, "desired_replicas_set_by": source,
            "max_replicas": _max_replicas(settings)}


def _max_replicas(settings: dict) -> int:
    value = settings.get("max_replicas")
    return value if isinstance(value, int) and 0 < value <= MAX_REPLICAS else MAX_REPLICAS


def scale(root: Path, body: Dict[str, Any]) -> Dict[str, Any]:
    """Run `replicas` instances: set the deployment's replicas; when its autoscaler's bounds would
    override that, put the autoscaler back to its last applied bounds if those allow it."""
    replicas = body.get("replicas")
    current = deployment(root)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= current["max_replicas"]:
        raise OpsError(400, "replicas must be a whole number from 0 to %d (the platform's limit), got %r"
                       % (current["max_replicas"], replicas))
    doc = _read_json(root, current["file"]) or {}
    (doc["spec"] if isinstance(doc.get("spec"), dict) else doc)["replicas"] = replicas
    scaler = current["autoscaler"]
    restored = None
    if scaler and not ((scaler["minReplicas"] or 0) <= replicas <= (scaler["maxReplicas"]
                                                                   if scaler["maxReplicas"] is not None else replicas)):
        applied = scaler["last_applied"]
        low, high = applied.get("minReplicas"), applied.get("maxReplicas")
        if not (isinstance(low, int) and isinstance(high, int) and low <= replicas <= high):
            raise OpsError(409, "the autoscaler %s bounds replicas to %s-%s and its last applied bounds "
                           "(%s-%s) do not allow %d either" % (scaler["file"], scaler["minReplicas"],
                                                               scaler["maxReplicas"], low, high, replicas))
        hpa = _read_json(root, scaler["file"])
        spec = hpa["spec"] if isinstance(hpa.get("spec"), dict) else hpa
        spec["minReplicas"], spec["maxReplicas"] = low, high
        _write_json(root, scaler["file"], hpa)
        restored = {"file": scaler["file"], "minReplicas": low, "maxReplicas": high}
    _write_json(root, current["file"], doc)
    after = deployment(root)
    return {"replicas": replicas, "desired_replicas": after["desired_replicas"],
            "autoscaler_restored": restored}
