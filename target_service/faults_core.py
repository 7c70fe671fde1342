"""The fault registry, the file helpers every injector uses, and the healthy service root.

`register_fault` adds an injector to FAULTS; `register_layout` adds the writer of a family's
healthy files, which `init_root` runs after writing the service's own config. The families
(faults_service.py, faults_traffic.py, faults_workload.py, faults_dependency.py) register
themselves when imported; faults.py imports them all and is the entry point (`inject`, the CLI).
Stdlib only, Python >= 3.9.
"""

from __future__ import annotations

import json
import os
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
    scenario_id: str
    listen_port: int
    wrong_port: Optional[int] = None
    params: Mapping[str, Any] = field(default_factory=dict)


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
              listen_host: str = DEFAULT_LISTEN_HOST) -> Path:
    """Write a healthy service root (overwrites config files; does not touch the marker).

    listen_host is 127.0.0.1 locally; a container must listen on 0.0.0.0 to be reachable
    through a published port. The registered families then write their healthy files.
    """
    root = Path(root)
    for rel in layout.LAYOUT_DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    write_service_json(root, {"scenario": scenario_id, "listen_host": listen_host,
                              "listen_port": int(listen_port)})
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
