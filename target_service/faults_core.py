"""The fault-class registry, the file helpers every injector uses, and the healthy service root.

A fault class lives in ONE module, `fault_<name>.py` next to this file (found by faults.py, which
imports every such module): a `FaultClass` subclass registered with `@register_class`, holding
    generate(rng)        -> params      a concrete incident drawn from a seed (names, paths, values,
                                        decoys); same seed, same incident, on every backend
    inject(ctx)                         apply the fault (+ its decoys) to a healthy root
    symptom(params)      -> str         what an on-call engineer is paged with (SYMPTOMS key)
    entity(params)       -> str         what the fault concerns (a path, flag, setting, release)
    decoys(params)       -> [rel]       files a careless fix would damage (must stay unchanged)
    may_change(params)   -> [rel]       files/dirs ("dir/") a correct fix may change
    oracle(root, params) -> [Check]     the real state: is the root cause gone? (runs where the
                                        target runs: in the container for Docker)
`register_layout` adds the writer of a family's healthy files, which `init_root` runs after
writing the service's own config. Stdlib only, Python >= 3.9.

Nothing the agent can read may name a fault class, the scenario or the runbook: not the health
body (generic, see app.py), not log lines, not file or process names the harness creates.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

if __package__:  # imported as target_service.faults_core (the runner, the tests)
    from . import root_layout as layout
    from .pidfiles import pid_running
else:  # run flat: python faults.py, or /app in the container
    import root_layout as layout
    from pidfiles import pid_running

# Healthy settings; the .example documents the same values.
DEFAULT_SETTINGS: Tuple[Tuple[str, str, str], ...] = (
    ("DATABASE_URL", "postgresql://app@db:5432/app",
     "connection string of the primary database; host resolved via etc/dns/resolv.conf, "
     "password in etc/secrets/db_password (required)"),
    ("CACHE_TTL_S", "300", "response cache lifetime in seconds, integer (required)"),
)
DEFAULT_LISTEN_HOST = "127.0.0.1"
HEALTHY = "healthy"


@dataclass(frozen=True)
class FaultContext:
    """Everything an injector may need. `wrong_port` is only meaningful for port faults;
    `params` holds per-incident details (see each injector's docstring)."""

    root: Path
    scenario_id: str          # the instance id the service reports (opaque in blind runs)
    listen_port: int
    wrong_port: Optional[int] = None
    params: Mapping[str, Any] = field(default_factory=dict)
    service: str = "checkout"


@dataclass(frozen=True)
class Check:
    """One oracle check: what was checked, whether it holds, and what was seen."""

    check: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"check": self.check, "passed": self.passed, "detail": self.detail}


# What an alert can say about a broken service (symptom level only): the key a fault class's
# `symptom()` returns -> alert wordings (one is drawn per incident). {service}, {minutes},
# {ratio}, {severity} are filled in by `render_alert`.
SYMPTOMS: Dict[str, Tuple[str, ...]] = {
    "http_5xx": (
        "{severity} {service}: HTTP 5xx ratio {ratio}% over the last {minutes}m",
        "{severity} {service}: error rate above SLO ({ratio}% of requests return 5xx) for {minutes}m",
        "{severity} {service} is failing requests: {ratio}% HTTP 500 responses since {minutes}m ago",
    ),
    "unavailable": (
        "{severity} {service}: health check returns HTTP 503 (service unavailable) for {minutes}m",
        "{severity} {service}: instances out of rotation, probe answers 503 since {minutes}m ago",
        "{severity} {service}: availability below SLO for {minutes}m; probes get 503 responses",
    ),
    "down": (
        "{severity} {service}: endpoint down, probe gets connection refused for {minutes}m",
        "{severity} {service}: no healthy instance answers on the service port for {minutes}m",
        "{severity} {service}: target down (up == 0) for {minutes}m; connections refused",
    ),
    "latency": (
        "{severity} {service}: p99 latency above 10s and probe timeouts for {minutes}m",
        "{severity} {service}: requests time out; probe success ratio {ratio}% lower over {minutes}m",
        "{severity} {service}: health checks time out (no response within 2s) for {minutes}m",
    ),
    "forbidden": (
        "{severity} {service}: health check returns HTTP 403 (forbidden) for {minutes}m",
        "{severity} {service}: no successful requests for {minutes}m; clients get 403 responses",
    ),
    "healthy": (
        "{severity} {service}: a user reported slowness {minutes}m ago; please check the service",
    ),
}
SERVICE_NAMES = ("checkout", "cart", "payments", "ledger", "catalog", "orders", "search",
                 "inventory", "billing", "accounts", "shipping", "quotes", "pricing", "profile",
                 "notifications", "recommendations")


def render_alert(symptom: str, service: str, rng: random.Random) -> str:
    """A symptom-level alert for `service` (no cause, no file, no fault class)."""
    if symptom not in SYMPTOMS:
        raise ValueError("unknown symptom %r; valid: %s" % (symptom, ", ".join(sorted(SYMPTOMS))))
    template = rng.choice(SYMPTOMS[symptom])
    return template.format(service=service, minutes=rng.choice((3, 5, 10, 15)),
                           ratio=rng.choice((100, 98, 87, 100)),
                           severity=rng.choice(("[P1]", "[P2]", "CRITICAL", "FIRING")))


class FaultClass:
    """One fault class (see the module docstring). Subclass it in `fault_<name>.py`, set `name`
    (the ground-truth class id) and override what the class needs; `register_class` adds it."""

    name = ""
    keeps_app_down = False   # True: the supervisor will not run the app (no app pid appears)

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        """Concrete params drawn from `rng` (JSON-able); inject() with {} must still work."""
        return {}

    def inject(self, ctx: "FaultContext") -> None:
        raise NotImplementedError

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return ""

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return []

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return []

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[Check]:
        return []


FAULT_CLASSES: Dict[str, FaultClass] = {}


def register_class(cls: type) -> type:
    """Class decorator: instantiate a FaultClass and register it (names are unique)."""
    instance = cls()
    if not instance.name:
        raise ValueError("%s has no name" % cls.__name__)
    register_fault(instance.name, keeps_app_down=instance.keeps_app_down)(instance.inject)
    FAULT_CLASSES[instance.name] = instance
    return cls


Injector = Callable[[FaultContext], None]
LayoutWriter = Callable[[Path, str], None]  # (root, scenario_id): write a family's healthy files
FAULTS: Dict[str, Injector] = {}
APP_DOWN_FAULTS: Set[str] = set()
LAYOUT_WRITERS: List[LayoutWriter] = []


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


def register_layout(func: LayoutWriter) -> LayoutWriter:
    """Decorator: `init_root` calls func(root, scenario_id) to write a family's healthy files."""
    LAYOUT_WRITERS.append(func)
    return func


def fault_names() -> List[str]:
    return sorted(FAULTS)


def keeps_app_down(name: Optional[str]) -> bool:
    """True when the fault stops the app from running (nothing will write var/run/app.pid)."""
    return name in APP_DOWN_FAULTS


# --- file helpers shared by injectors ---------------------------------------------------------

def read_env(root: Path, rel: str = layout.SERVICE_ENV) -> Dict[str, str]:
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


def write_env(root: Path, values: Dict[str, str], rel: str = layout.SERVICE_ENV) -> None:
    body = "".join("%s=%s\n" % (key, value) for key, value in values.items())
    write_file(Path(root) / rel, "# service settings, read at service start\n" + body)


def read_service_json(root: Path) -> dict:
    return json.loads((Path(root) / layout.SERVICE_JSON).read_text(encoding="utf-8"))


def write_service_json(root: Path, config: dict) -> None:
    write_file(Path(root) / layout.SERVICE_JSON, json.dumps(config, indent=2) + "\n")


def write_file(path: Path, text: str, mode: Optional[int] = None) -> None:
    """Write atomically (temp file + rename), creating parent dirs; `mode` = chmod first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if mode is not None:
        os.chmod(str(tmp), mode)
    os.replace(str(tmp), str(path))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_file(path, json.dumps(data, indent=2) + "\n")


# --- oracle reads: a missing or unreadable file fails a check, it never raises ---------------------

def read_json_or(path: Path, default: Any) -> Any:
    """The JSON at `path`, or `default` when it is missing or not valid JSON."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return default


def service_json_or_empty(root: Path) -> Any:
    """etc/service.json as the oracle reads it: {} when missing or not valid JSON."""
    return read_json_or(Path(root) / layout.SERVICE_JSON, {})


def json_field(path: Path, key: str) -> Any:
    """`key` of the JSON object at `path`; None when the file is missing, not JSON or not an object."""
    try:
        return read_json(path).get(key)
    except (OSError, ValueError, AttributeError):
        return None


def service_setting(root: Path, key: str) -> Any:
    """`key` of etc/service.json; None when the file is missing, not JSON or not an object."""
    return json_field(Path(root) / layout.SERVICE_JSON, key)


def listen_port_check(port: Any, expected: Any) -> "Check":
    """The oracle's check that the instance still listens on the port its load balancer uses."""
    return Check("the instance still listens on its port", port == expected,
                 "listen port %r, load balancer port %r" % (port, expected))


def param(ctx: FaultContext, key: str, default: Any) -> Any:
    """ctx.params[key], or `default` when the incident did not give it (None, "" or {})."""
    value = ctx.params.get(key)
    return default if value in (None, "", {}) else value


def dead_pid(start: int = 4242) -> int:
    """A pid that is not running right now (the 'previous owner' of a stale lock)."""
    pid = start
    while pid_running(pid) or pid == os.getpid():
        pid += 1
    return pid


# --- healthy layout --------------------------------------------------------------------------

def init_root(root: Path, scenario_id: str, listen_port: int,
              listen_host: str = DEFAULT_LISTEN_HOST, service: str = "checkout") -> Path:
    """Write a healthy service root (overwrites config files; does not touch the marker).

    `scenario_id` is the instance id the service reports in its health body (an opaque token in
    blind runs); `service` its name. listen_host is 127.0.0.1 locally; a container must listen on
    0.0.0.0 to be reachable through a published port. The registered families then write their
    healthy files.
    """
    root = Path(root)
    for rel in layout.LAYOUT_DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    write_service_json(root, {"service": service, "instance": scenario_id,
                              "listen_host": listen_host, "listen_port": int(listen_port)})
    write_env(root, {key: value for key, value, _ in DEFAULT_SETTINGS})
    example = ["# Complete settings for the service. Copy the lines you need into etc/service.env,",
               "# then restart the service (settings are read at start)."]
    for key, value, doc in DEFAULT_SETTINGS:
        example += ["", "# %s" % doc, "%s=%s" % (key, value)]
    write_file(root / layout.SERVICE_ENV_EXAMPLE, "\n".join(example) + "\n")
    write_file(root / layout.READY_FLAG, "ready\n")
    lock = root / layout.LOCK_FILE
    if lock.exists():
        lock.unlink()
    for write_healthy in LAYOUT_WRITERS:
        write_healthy(root, scenario_id)
    return root
