"""Fault injection for the target service root (stdlib only, Python >= 3.9).

The service root layout is described in DESIGN_NOTES / CONTRIBUTING ("Service root layout").
`init_root` writes a healthy root; `inject` = `init_root` + one fault from `FAULTS`, exactly once
per root (marker `var/lib/fault_injected`), so a container restart never re-breaks a fixed service.

Adding a fault: write a function taking a `FaultContext` and decorate it with
`@register_fault("name")`. Use the helpers below (`read_env`/`write_env`, `read_service_json`/
`write_service_json`) so every fault edits the files the same way the app reads them.
A fault must leave a symptom the app reports (or a service that does not answer on the probe
port) and must be fixable by editing files under the root (+ a restart when config changes):
restarting alone must never fix it. A fault that keeps the app from running at all (scaled to
zero, a release that cannot run, a crashing start command, an OOM kill) is registered with
`keeps_app_down=True`, so a backend waits for the supervisor's decision instead of an app pid.
`FaultContext.params` carries per-incident details (e.g. which feature flag, which chaos
experiment); every injector has deterministic defaults when params are empty.

CLI (used by the container's start.sh on first boot):
    python faults.py --root DIR --scenario ID --fault NAME --port N [--wrong-port M] [--host H]
                     [--params JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import hashlib
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

SERVICE_JSON = "etc/service.json"
SERVICE_ENV = "etc/service.env"
SERVICE_ENV_EXAMPLE = "etc/service.env.example"
LOCK_FILE = "var/lock/service.lock"
READY_FLAG = "var/run/ready"
INJECTED_MARKER = "var/lib/fault_injected"
LAYOUT_DIRS = ("etc", "var/lock", "var/log", "var/lib", "var/run")

# Healthy settings; the .example documents the same values.
DEFAULT_SETTINGS: Tuple[Tuple[str, str, str], ...] = (
    ("DATABASE_URL", "postgresql://app@db:5432/app",
     "connection string of the primary database; host resolved via etc/dns/resolv.conf, "
     "password in etc/secrets/db_password (required)"),
    ("CACHE_TTL_S", "300", "response cache lifetime in seconds, integer (required)"),
)
DEFAULT_LISTEN_HOST = "127.0.0.1"
HEALTHY = "healthy"

# Files of the richer fault library (read by app.py / supervisor.py; see their docstrings).
FLAGS_FILE = "etc/flags.json"                 # flagd-format feature flags, read per request
CHAOS_DIR = "etc/chaos"                       # Chaos Mesh-style Schedules, applied while present
DEPLOYMENT_JSON = "etc/deployment.json"       # {"replicas": N}, read by the supervisor
RELEASE_JSON = "etc/release.json"             # current release + rollout history
RELEASES_DIR = "opt/releases"                 # <release>/manifest.json per installed release
ENTRYPOINT = "etc/entrypoint.sh"              # start command the supervisor runs
ENTRYPOINT_DEFAULT = "etc/entrypoint.sh.default"
LIMITS_JSON = "etc/limits.json"               # {"memory_mb": N}, enforced at app start
LIMITS_DEFAULT = "etc/limits.json.default"
SECRET_FILE = "etc/secrets/db_password"       # credential the app presents to the database
VAULT_SECRET = "var/lib/vault/db_password"    # source of truth for that credential
DB_AUTH = "var/lib/db/auth"                   # what the (simulated) database accepts: user:salt:sha256
RESOLV_CONF = "etc/dns/resolv.conf"           # resolver for outgoing connections, read at start
RESOLV_DEFAULT = "etc/dns/resolv.conf.default"
DNS_DATA_DIR = "var/lib/dns"                  # <nameserver>.hosts = what that nameserver answers
CLUSTER_DNS = "10.96.0.10"
GOOD_RELEASES = ("v1.4.1", "v1.4.2")          # installed; the last one is current
BAD_RELEASE = "v1.5.0"
IMAGE = "registry.local/target-service:%s"
MEMORY_LIMIT_MB = 256                         # documented limit; the app peaks at ~40 MB
TOO_LOW_MEMORY_MB = 16

_ON_OFF = {"on": True, "off": False}
# Modelled on the OpenTelemetry Demo's flagd config (demo.flagd.json): every flag off by default.
OTEL_DEMO_FLAGS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "adFailure": ("Fail ad service", _ON_OFF),
    "adHighCpu": ("Triggers high cpu load in the ad service", _ON_OFF),
    "adManualGc": ("Triggers full manual garbage collections in the ad service", _ON_OFF),
    "cartFailure": ("Fail cart service", _ON_OFF),
    "emailMemoryLeak": ("Memory leak in the email service", {"off": 0, "1x": 1, "10x": 10,
                                                              "100x": 100, "1000x": 1000}),
    "imageSlowLoad": ("Slow loading images in the frontend", {"10sec": 10000, "5sec": 5000,
                                                              "off": 0}),
    "kafkaQueueProblems": ("Overloads the Kafka queue and delays consumers", {"on": 100, "off": 0}),
    "loadGeneratorFloodHomepage": ("Flood the frontend with a large amount of requests",
                                   {"on": 100, "off": 0}),
    "paymentFailure": ("Fail payment service charge requests n%",
                       {"100%": 1, "90%": 0.95, "75%": 0.75, "50%": 0.5, "25%": 0.25,
                        "10%": 0.1, "off": 0}),
    "paymentUnreachable": ("Payment service is unavailable", _ON_OFF),
    "productCatalogFailure": ("Fail product catalog service on a specific product", _ON_OFF),
    "recommendationCacheFailure": ("Fail recommendation service cache", _ON_OFF),
}

DEFAULT_ENTRYPOINT = """#!/bin/sh
# Service entrypoint. The supervisor runs `sh etc/entrypoint.sh <app command...>` in the service
# root: init steps first, then the last line hands over to the app.
# Packaged version: etc/entrypoint.sh.default (restore it with cp, then restart the service).
set -e
test -r etc/service.json || { echo "entrypoint: etc/service.json is missing" >&2; exit 1; }
exec "$@"
"""


@dataclass(frozen=True)
class FaultContext:
    """Everything an injector may need. `wrong_port` is only meaningful for port faults;
    `params` holds per-incident details (see each injector's docstring)."""

    root: Path
    scenario_id: str
    listen_port: int
    wrong_port: Optional[int] = None
    params: Mapping[str, Any] = field(default_factory=dict)


Injector = Callable[[FaultContext], None]
FAULTS: Dict[str, Injector] = {}
APP_DOWN_FAULTS: Set[str] = set()


def register_fault(name: str, keeps_app_down: bool = False) -> Callable[[Injector], Injector]:
    """Decorator: add an injector to FAULTS under `name` (names are unique)."""

    def decorate(func: Injector) -> Injector:
        if name in FAULTS:
            raise ValueError("fault %r is already registered (by %s)" % (name, FAULTS[name].__name__))
        FAULTS[name] = func
        if keeps_app_down:
            APP_DOWN_FAULTS.add(name)
        return func

    return decorate


def fault_names() -> List[str]:
    return sorted(FAULTS)


def keeps_app_down(name: Optional[str]) -> bool:
    """True when the fault stops the app from running (nothing will write var/run/app.pid)."""
    return name in APP_DOWN_FAULTS


# --- file helpers shared by injectors ---------------------------------------------------------

def read_env(root: Path, rel: str = SERVICE_ENV) -> Dict[str, str]:
    """Parse KEY=VALUE lines (blank lines and # comments ignored), same rules as the app."""
    values: Dict[str, str] = {}
    path = Path(root) / rel
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def write_env(root: Path, values: Dict[str, str], rel: str = SERVICE_ENV) -> None:
    body = "".join("%s=%s\n" % (key, value) for key, value in values.items())
    _write(Path(root) / rel, "# service settings, read at service start\n" + body)


def read_service_json(root: Path) -> dict:
    return json.loads((Path(root) / SERVICE_JSON).read_text(encoding="utf-8"))


def write_service_json(root: Path, config: dict) -> None:
    _write(Path(root) / SERVICE_JSON, json.dumps(config, indent=2) + "\n")


def _write(path: Path, text: str, mode: Optional[int] = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if mode is not None:
        os.chmod(str(tmp), mode)
    os.replace(str(tmp), str(path))


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_pid(start: int = 4242) -> int:
    """A pid that is not running right now (the 'previous owner' of a stale lock)."""
    pid = start
    while _pid_running(pid) or pid == os.getpid():
        pid += 1
    return pid


# --- healthy layout --------------------------------------------------------------------------

def init_root(root: Path, scenario_id: str, listen_port: int,
              listen_host: str = DEFAULT_LISTEN_HOST) -> Path:
    """Write a healthy service root (overwrites config files; does not touch the marker).

    listen_host is 127.0.0.1 locally; a container must listen on 0.0.0.0 to be reachable
    through a published port.
    """
    root = Path(root)
    for rel in LAYOUT_DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    write_service_json(root, {"scenario": scenario_id, "listen_host": listen_host,
                              "listen_port": int(listen_port)})
    write_env(root, {key: value for key, value, _ in DEFAULT_SETTINGS})
    example = ["# Complete settings for the service. Copy the lines you need into etc/service.env,",
               "# then restart the service (settings are read at start)."]
    for key, value, doc in DEFAULT_SETTINGS:
        example += ["", "# %s" % doc, "%s=%s" % (key, value)]
    _write(root / SERVICE_ENV_EXAMPLE, "\n".join(example) + "\n")
    _write(root / READY_FLAG, "ready\n")
    lock = root / LOCK_FILE
    if lock.exists():
        lock.unlink()
    _init_library(root, scenario_id)
    return root


def host_platform() -> str:
    """linux/<arch> of this machine, in container-image terms (amd64, arm64, ...)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return "linux/%s" % arch


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode("utf-8")).hexdigest()


def _write_release(root: Path, release: str, platform_name: str) -> None:
    manifest = {"release": release, "image": IMAGE % release, "platform": platform_name}
    _write(root / RELEASES_DIR / release / "manifest.json", json.dumps(manifest, indent=2) + "\n")


def _resolv_conf(nameserver: str, search: Optional[str]) -> str:
    lines = ["# Resolver for the service's outgoing connections (read at service start).",
             "# Packaged default: %s" % RESOLV_DEFAULT, "nameserver %s" % nameserver]
    if search:
        lines.append("search %s" % search)
    return "\n".join(lines + ["options ndots:5 timeout:5"]) + "\n"


def _init_library(root: Path, scenario_id: str) -> None:
    """Healthy state of every file the richer fault library breaks."""
    flags = {name: {"description": doc, "state": "ENABLED", "variants": dict(variants),
                    "defaultVariant": "off"} for name, (doc, variants) in OTEL_DEMO_FLAGS.items()}
    _write(root / FLAGS_FILE, json.dumps({"$schema": "https://flagd.dev/schema/v0/flags.json",
                                          "flags": flags}, indent=2) + "\n")
    (root / CHAOS_DIR).mkdir(parents=True, exist_ok=True)
    _write(root / DEPLOYMENT_JSON, json.dumps({"replicas": 1}, indent=2) + "\n")
    for release in GOOD_RELEASES:
        _write_release(root, release, host_platform())
    history = [{"revision": i + 1, "release": r, "image": IMAGE % r}
               for i, r in enumerate(GOOD_RELEASES)]
    _write(root / RELEASE_JSON, json.dumps({"current": GOOD_RELEASES[-1], "history": history},
                                           indent=2) + "\n")
    for rel in (ENTRYPOINT, ENTRYPOINT_DEFAULT):
        _write(root / rel, DEFAULT_ENTRYPOINT)
    limits = json.dumps({"memory_mb": MEMORY_LIMIT_MB,
                         "note": "sized for the service's peak working set (~40 MB) with headroom"},
                        indent=2) + "\n"
    for rel in (LIMITS_JSON, LIMITS_DEFAULT):
        _write(root / rel, limits)
    password, salt = _digest("db-password", scenario_id)[:24], _digest("db-salt", scenario_id)[:16]
    for rel in (SECRET_FILE, VAULT_SECRET):
        _write(root / rel, password + "\n", mode=0o600)
    _write(root / DB_AUTH, "app:%s:%s\n" % (salt, _digest(salt, password)), mode=0o600)
    resolv = _resolv_conf(CLUSTER_DNS, "svc.cluster.local cluster.local")
    for rel in (RESOLV_CONF, RESOLV_DEFAULT):
        _write(root / rel, resolv)
    _write(root / DNS_DATA_DIR / ("%s.hosts" % CLUSTER_DNS),
           "# names the cluster DNS at %s answers\n10.0.0.21 db.svc.cluster.local\n"
           "10.0.0.22 cache.svc.cluster.local\n" % CLUSTER_DNS)


def inject(root: Path, fault: Optional[str], *, scenario_id: str, listen_port: int,
           wrong_port: Optional[int] = None, listen_host: str = DEFAULT_LISTEN_HOST,
           params: Optional[Mapping[str, Any]] = None) -> bool:
    """init_root + apply `fault` (with its per-incident `params`), once per root.
    Returns False (no-op) if already injected."""
    if params is not None and not isinstance(params, Mapping):
        raise ValueError("fault params must be a JSON object, got %r" % (params,))
    name = fault or HEALTHY
    if name not in FAULTS:
        raise ValueError("unknown fault %r; valid faults: %s" % (fault, ", ".join(fault_names())))
    root = Path(root)
    marker = root / INJECTED_MARKER
    if marker.exists():
        return False
    init_root(root, scenario_id, listen_port, listen_host)
    if wrong_port is None:
        wrong_port = listen_port + 1 if listen_port < 65535 else listen_port - 1
    if wrong_port == listen_port:
        raise ValueError("wrong_port must differ from listen_port (both %d)" % listen_port)
    FAULTS[name](FaultContext(root, scenario_id, int(listen_port), int(wrong_port),
                              dict(params or {})))
    _write(marker, "%s\n" % name)
    return True


# --- the faults ------------------------------------------------------------------------------

@register_fault(HEALTHY)
def _healthy(ctx: FaultContext) -> None:
    """No fault: the service answers 200."""


@register_fault("stale_lockfile")
def _stale_lockfile(ctx: FaultContext) -> None:
    """A previous instance died and left its lock file, naming a pid that no longer runs."""
    _write(ctx.root / LOCK_FILE, "%d\n" % dead_pid())


@register_fault("readiness_probe_fail")
def _readiness_probe_fail(ctx: FaultContext) -> None:
    """The readiness flag is missing, so the service reports not ready."""
    flag = ctx.root / READY_FLAG
    if flag.exists():
        flag.unlink()


@register_fault("port_mismatch")
def _port_mismatch(ctx: FaultContext) -> None:
    """The service is configured to listen on a different port than the one probed."""
    config = read_service_json(ctx.root)
    config["listen_port"] = ctx.wrong_port
    write_service_json(ctx.root, config)


@register_fault("bad_env_config")
def _bad_env_config(ctx: FaultContext) -> None:
    """A required setting is missing from service.env (still documented in the .example)."""
    values = read_env(ctx.root)
    values.pop("DATABASE_URL", None)
    write_env(ctx.root, values)


# --- the richer fault library (ITBench analogues; openhands_driver/itbench.py maps to them) ----

DEFAULT_CHAOS_NAME = "service-network-delay"
DEFAULT_CHAOS_SPEC: Dict[str, Any] = {
    "type": "NetworkChaos",
    "networkChaos": {"action": "delay", "delay": {"latency": "20000ms"}, "mode": "all",
                     "selector": {"labelSelectors": {"app.kubernetes.io/component": "service"}}}}
CRASH_VARIANTS = ("crash", "invalid_command", "hang")
# Init steps a bad change adds to the entrypoint (inserted before the final `exec "$@"`).
_CRASH_INIT = ("# init: load the feature toggles (added by the last change)\n"
               "python3 -c 'import json; json.load(open(\"etc/features.json\"))'\n")
_HANG_INIT = ("# init: wait for the database schema migration (added by the last change)\n"
              "echo \"init: waiting for var/lib/db/schema.migrated\" >&2\n"
              "until test -e var/lib/db/schema.migrated; do sleep 1; done\n")


def _param(ctx: FaultContext, key: str, default: Any) -> Any:
    value = ctx.params.get(key)
    return default if value in (None, "", {}) else value


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: Any) -> None:
    _write(path, json.dumps(data, indent=2) + "\n")


@register_fault("feature_flag")
def _feature_flag(ctx: FaultContext) -> None:
    """A failure-mode feature flag is on in etc/flags.json (flagd format, read per request).
    params: flag (default adFailure), variant (the flag state to select, default "on")."""
    name, variant = str(_param(ctx, "flag", "adFailure")), str(_param(ctx, "variant", "on"))
    path = ctx.root / FLAGS_FILE
    config = _read_json(path)
    flag = config["flags"].setdefault(name, {"description": "failure mode %s" % name,
                                             "state": "ENABLED", "variants": dict(_ON_OFF),
                                             "defaultVariant": "off"})
    if not flag["variants"].get(variant):  # a state the flag does not define (or "off")
        on = [key for key, value in flag["variants"].items() if value]
        variant = on[0] if on else variant
        flag["variants"].setdefault(variant, True)
    flag["defaultVariant"], flag["state"] = variant, "ENABLED"
    _write_json(path, config)


@register_fault("chaos_schedule")
def _chaos_schedule(ctx: FaultContext) -> None:
    """A Chaos Mesh-style Schedule in etc/chaos/<name>.json keeps injecting an experiment
    (delay, loss/partition, HTTP abort/patch, stress) until the schedule is deleted.
    params: name (the Schedule's name), schedule_spec (Chaos Mesh scheduleSpec: type + body)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", str(_param(ctx, "name", DEFAULT_CHAOS_NAME)).lower())
    name = name.strip("-.") or DEFAULT_CHAOS_NAME
    spec = dict(_param(ctx, "schedule_spec", DEFAULT_CHAOS_SPEC))
    spec.setdefault("schedule", "@every 1m")
    spec.setdefault("historyLimit", 1)
    spec.setdefault("concurrencyPolicy", "Forbid")
    _write_json(ctx.root / CHAOS_DIR / ("%s.json" % name),
                {"apiVersion": "chaos-mesh.org/v1alpha1", "kind": "Schedule",
                 "metadata": {"name": name, "namespace": "chaos-mesh"}, "spec": spec})


@register_fault("scaled_to_zero", keeps_app_down=True)
def _scaled_to_zero(ctx: FaultContext) -> None:
    """etc/deployment.json says replicas 0: the supervisor keeps no app instance running."""
    path = ctx.root / DEPLOYMENT_JSON
    _write_json(path, {**_read_json(path), "replicas": 0})


@register_fault("bad_release", keeps_app_down=True)
def _bad_release(ctx: FaultContext) -> None:
    """A new release (v1.5.0) is rolled out that cannot run; the previous ones stay installed
    and in the history of etc/release.json. params: variant = "missing" (no such image/release,
    default) or "arch" (the image is built for another CPU architecture)."""
    variant = str(_param(ctx, "variant", "missing"))
    if variant not in ("missing", "arch"):
        raise ValueError("bad_release variant must be 'missing' or 'arch', got %r" % variant)
    if variant == "arch":
        other = "linux/amd64" if host_platform() == "linux/arm64" else "linux/arm64"
        _write_release(ctx.root, BAD_RELEASE, other)
    path = ctx.root / RELEASE_JSON
    data = _read_json(path)
    data["history"].append({"revision": len(data["history"]) + 1, "release": BAD_RELEASE,
                            "image": IMAGE % BAD_RELEASE})
    data["current"] = BAD_RELEASE
    _write_json(path, data)


@register_fault("crash_loop", keeps_app_down=True)
def _crash_loop(ctx: FaultContext) -> None:
    """A change to the start command (etc/entrypoint.sh) stops the app from starting; the
    packaged version is etc/entrypoint.sh.default. params: variant = "crash" (an init step
    crashes on a malformed config, default), "invalid_command" (the app is started with an
    argument it rejects) or "hang" (an init step waits forever)."""
    variant = str(_param(ctx, "variant", "crash"))
    if variant not in CRASH_VARIANTS:
        raise ValueError("crash_loop variant must be one of %s, got %r"
                         % (", ".join(CRASH_VARIANTS), variant))
    handover = 'exec "$@"\n'
    script = DEFAULT_ENTRYPOINT
    if variant == "invalid_command":
        script = script.replace(handover, 'exec "$@" --workers auto\n')
    else:
        script = script.replace(handover, (_CRASH_INIT if variant == "crash" else _HANG_INIT) + handover)
    if variant == "crash":
        _write(ctx.root / "etc/features.json", '{"features": {"recommendationCache": true,,}}\n')
    _write(ctx.root / ENTRYPOINT, script)


@register_fault("bad_credential")
def _bad_credential(ctx: FaultContext) -> None:
    """The mounted secret etc/secrets/db_password is corrupted, so the database rejects the
    service's login; the source of truth var/lib/vault/db_password is intact."""
    _write(ctx.root / SECRET_FILE, "corrupted-%s\n" % _digest("corrupt", ctx.scenario_id)[:16],
           mode=0o600)


@register_fault("resource_limit", keeps_app_down=True)
def _resource_limit(ctx: FaultContext) -> None:
    """etc/limits.json sets memory_mb far below the app's working set: OOM-killed at every
    start (crash loop). etc/limits.json.default keeps the documented limit."""
    path = ctx.root / LIMITS_JSON
    _write_json(path, {**_read_json(path), "memory_mb": TOO_LOW_MEMORY_MB})


@register_fault("dns_misconfig")
def _dns_misconfig(ctx: FaultContext) -> None:
    """etc/dns/resolv.conf points at a nameserver that does not answer and drops the search
    domains (a pod DNS policy of None with a bogus dnsConfig): the database host cannot be
    resolved. etc/dns/resolv.conf.default keeps the packaged resolver settings."""
    _write(ctx.root / RESOLV_CONF, _resolv_conf("192.0.2.53", None))


# --- CLI -------------------------------------------------------------------------------------

def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Inject one fault into a target service root "
                                                 "(once per root).")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    parser.add_argument("--scenario", required=True, help="scenario id reported by the service")
    parser.add_argument("--fault", default=HEALTHY,
                        help="fault name (%s); empty or 'healthy' = none" % ", ".join(fault_names()))
    parser.add_argument("--port", type=int, required=True, help="port the service is probed on")
    parser.add_argument("--host", default=DEFAULT_LISTEN_HOST,
                        help="listen_host written to etc/service.json (0.0.0.0 in a container)")
    parser.add_argument("--wrong-port", type=int, default=None,
                        help="port used by port faults (default: --port + 1)")
    parser.add_argument("--params", default="",
                        help="per-incident fault details, a JSON object "
                             "(e.g. '{\"flag\": \"cartFailure\"}')")
    args = parser.parse_args(argv)
    try:
        params = json.loads(args.params) if args.params.strip() else None
    except ValueError as exc:
        print("faults.py: --params is not valid JSON: %s" % exc, file=sys.stderr)
        return 2
    try:
        done = inject(Path(args.root), args.fault or None, scenario_id=args.scenario,
                      listen_port=args.port, wrong_port=args.wrong_port,
                      listen_host=args.host, params=params)
    except (ValueError, OSError) as exc:
        print("faults.py: %s" % exc, file=sys.stderr)
        return 2
    if done:
        print("faults.py: injected fault %r into %s" % (args.fault or HEALTHY, args.root))
    else:
        print("faults.py: %s already initialised (%s present); nothing to do"
              % (args.root, INJECTED_MARKER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
