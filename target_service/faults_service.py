"""The healthy files of the service's own features: settings, listen port, warm-up data.

No faults here (one module per fault class: fault_stale_lockfile.py, fault_readiness_probe_fail.py,
fault_port_mismatch.py, fault_bad_env_config.py, fault_healthy.py). `init_root` (faults_core) writes
etc/service.json, the two core settings and the lock-free state; this family's layout writer adds:
  * the other required settings (etc/service.env + documented in etc/service.env.example);
  * `metrics.port` in etc/service.json (a second listener the port fixes must leave alone);
  * etc/upstream.json: what the load balancer in front of the service forwards to (the port the
    probe reaches; never changed by a fix);
  * the warm-up: `warmup` in etc/service.json names the data file the app loads at start
    (var/lib/<svc>/...) and the copy shipped with the package (opt/<svc>/share/...).
The app checks them in app_service.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

if __package__:  # imported as target_service.faults_service (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout

# Required settings beyond faults_core.DEFAULT_SETTINGS: (key, healthy value, documentation).
EXTRA_SETTINGS: Tuple[Tuple[str, str, str], ...] = (
    ("REQUEST_TIMEOUT_MS", "2500", "timeout of one upstream request in milliseconds, 100-60000 (required)"),
    ("WORKER_THREADS", "8", "request worker threads, 1-64 (required)"),
    ("LOG_LEVEL", "INFO", "one of DEBUG, INFO, WARNING, ERROR (required)"),
    ("UPSTREAM_URL", "http://inventory.internal:8080", "base URL of the inventory API, http or https (required)"),
)
# Optional settings (documented only; a root may carry them with any value).
OPTIONAL_SETTINGS: Tuple[Tuple[str, str, str], ...] = (
    ("TRACE_SAMPLE_RATE", "0.01", "fraction of requests traced, 0-1 (optional)"),
)
UPSTREAM_JSON = "etc/upstream.json"
DROPIN_DIR = "etc/service.d"
DEFAULT_METRICS_PORT = 9102
DEFAULT_WARMUP = ("var/lib/{svc}/cache/warmup.dat", "opt/{svc}/share/warmup.dat")
WARMUP_FORMAT = "warmup/2"


def all_settings() -> Tuple[Tuple[str, str, str], ...]:
    return tuple(core.DEFAULT_SETTINGS) + EXTRA_SETTINGS


def example_text() -> str:
    lines = ["# Complete settings for the service. Copy the lines you need into etc/service.env,",
             "# then restart the service (settings are read at start)."]
    for key, value, doc in all_settings():
        lines += ["", "# %s" % doc, "%s=%s" % (key, value)]
    for key, value, doc in OPTIONAL_SETTINGS:
        lines += ["", "# %s" % doc, "# %s=%s" % (key, value)]
    return "\n".join(lines) + "\n"


def service_name(root: Path) -> str:
    try:
        return str(core.read_service_json(root).get("service") or "checkout")
    except (OSError, ValueError):
        return "checkout"


def warmup_text(name: str, records: int, fmt: str = WARMUP_FORMAT) -> str:
    """A warm-up data file: header, then `records` key<TAB>value lines (deterministic)."""
    rows = ["format=%s records=%d" % (fmt, records)]
    for i in range(records):
        digest = hashlib.sha256(("%s/%d" % (name, i)).encode("utf-8")).hexdigest()
        rows.append("%s-%04d\t%s" % (name.split(".")[0], i, digest[:24]))
    return "\n".join(rows) + "\n"


def set_warmup(root: Path, data_file: str, seed_file: str, records: int) -> None:
    """Point the warm-up at data_file (+ the shipped seed copy), both healthy; remove the
    previous ones."""
    config = core.read_service_json(root)
    old = config.get("warmup") if isinstance(config.get("warmup"), dict) else {}
    for key in ("data_file", "seed_file"):
        rel = old.get(key)
        if isinstance(rel, str) and rel and rel not in (data_file, seed_file):
            try:
                (root / rel).unlink()
            except OSError:
                pass
    text = warmup_text(Path(data_file).name, records)
    core.write_file(root / seed_file, text)
    core.write_file(root / data_file, text)
    config["warmup"] = {"data_file": data_file, "seed_file": seed_file}
    core.write_service_json(root, config)


def upstream_port(root: Path) -> Optional[int]:
    """The port the load balancer forwards to (etc/upstream.json), None if unreadable."""
    try:
        data = json.loads((root / UPSTREAM_JSON).read_text(encoding="utf-8"))
        port = int(str(data["backend"]).rpartition(":")[2])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return port


@core.register_layout
def _healthy_service(root: Path, scenario_id: str) -> None:
    svc = service_name(root)
    values = core.read_env(root)
    for key, value, _ in EXTRA_SETTINGS:
        values.setdefault(key, value)
    core.write_env(root, values)
    core.write_file(root / layout.SERVICE_ENV_EXAMPLE, example_text())
    config = core.read_service_json(root)
    config["metrics"] = {"port": DEFAULT_METRICS_PORT, "path": "/metrics"}
    core.write_service_json(root, config)
    core.write_json(root / UPSTREAM_JSON, {
        "upstream": svc, "backend": "127.0.0.1:%d" % int(config["listen_port"]),
        "health_check": {"path": "/", "interval_s": 5, "timeout_s": 2},
        "note": "managed by the load balancer team; the service must listen on this port"})
    data_file, seed_file = (rel.replace("{svc}", svc) for rel in DEFAULT_WARMUP)
    set_warmup(root, data_file, seed_file, 64)


def dropins(root: Path) -> List[str]:
    base = root / DROPIN_DIR
    return sorted("%s/%s" % (DROPIN_DIR, p.name) for p in base.glob("*.json")) if base.is_dir() else []


def effective_port(root: Path) -> Tuple[object, str]:
    """The listen port the app would use (same precedence as app_service.resolve_port)."""
    try:
        raw = core.read_service_json(root)
    except (OSError, ValueError) as exc:
        return None, "%s unreadable: %s" % (layout.SERVICE_JSON, exc)
    port: object = raw.get("listen_port")
    source = "listen_port in %s" % layout.SERVICE_JSON
    server = raw.get("server")
    if isinstance(server, dict) and "port" in server:
        port, source = server["port"], "server.port in %s" % layout.SERVICE_JSON
    for rel in dropins(root):
        try:
            data = core.read_json(root / rel)
        except (OSError, ValueError):
            return None, "%s unreadable" % rel
        if isinstance(data, dict) and "listen_port" in data:
            port, source = data["listen_port"], "listen_port in %s" % rel
    env: Dict[str, str] = core.read_env(root)
    if "PORT" in env:
        value = env["PORT"]
        port, source = (int(value) if value.isdigit() else value), "PORT in %s" % layout.SERVICE_ENV
    return port, source
