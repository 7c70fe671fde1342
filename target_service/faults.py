"""Fault injection for the target service root (stdlib only, Python >= 3.9).

The service root layout is described in DESIGN_NOTES / CONTRIBUTING ("Service root layout").
`init_root` writes a healthy root; `inject` = `init_root` + one fault from `FAULTS`, exactly once
per root (marker `var/lib/fault_injected`), so a container restart never re-breaks a fixed service.

Adding a fault: write a function taking a `FaultContext` and decorate it with
`@register_fault("name")`. Use the helpers below (`read_env`/`write_env`, `read_service_json`/
`write_service_json`) so every fault edits the files the same way the app reads them.
A fault must leave a symptom the app reports (or a service that does not answer on the probe
port) and must be fixable by editing files under the root (+ a restart when config changes):
restarting alone must never fix it.

CLI (used by the container's start.sh on first boot):
    python faults.py --root DIR --scenario ID --fault NAME --port N [--wrong-port M] [--host H]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

SERVICE_JSON = "etc/service.json"
SERVICE_ENV = "etc/service.env"
SERVICE_ENV_EXAMPLE = "etc/service.env.example"
LOCK_FILE = "var/lock/service.lock"
READY_FLAG = "var/run/ready"
INJECTED_MARKER = "var/lib/fault_injected"
LAYOUT_DIRS = ("etc", "var/lock", "var/log", "var/lib", "var/run")

# Healthy settings; the .example documents the same values.
DEFAULT_SETTINGS: Tuple[Tuple[str, str, str], ...] = (
    ("DATABASE_URL", "postgresql://app:app@127.0.0.1:5432/app",
     "connection string of the primary database (required)"),
    ("CACHE_TTL_S", "300", "response cache lifetime in seconds, integer (required)"),
)
DEFAULT_LISTEN_HOST = "127.0.0.1"
HEALTHY = "healthy"


@dataclass(frozen=True)
class FaultContext:
    """Everything an injector may need. `wrong_port` is only meaningful for port faults."""

    root: Path
    scenario_id: str
    listen_port: int
    wrong_port: Optional[int] = None


Injector = Callable[[FaultContext], None]
FAULTS: Dict[str, Injector] = {}


def register_fault(name: str) -> Callable[[Injector], Injector]:
    """Decorator: add an injector to FAULTS under `name` (names are unique)."""

    def decorate(func: Injector) -> Injector:
        if name in FAULTS:
            raise ValueError("fault %r is already registered (by %s)" % (name, FAULTS[name].__name__))
        FAULTS[name] = func
        return func

    return decorate


def fault_names() -> List[str]:
    return sorted(FAULTS)


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


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
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
    return root


def inject(root: Path, fault: Optional[str], *, scenario_id: str, listen_port: int,
           wrong_port: Optional[int] = None, listen_host: str = DEFAULT_LISTEN_HOST) -> bool:
    """init_root + apply `fault`, once per root. Returns False (no-op) if already injected."""
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
    FAULTS[name](FaultContext(root, scenario_id, int(listen_port), int(wrong_port)))
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
    args = parser.parse_args(argv)
    try:
        done = inject(Path(args.root), args.fault or None, scenario_id=args.scenario,
                      listen_port=args.port, wrong_port=args.wrong_port,
                      listen_host=args.host)
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
