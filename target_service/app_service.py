"""The service's own config and files: etc/service.json, etc/service.env, the lock, warm-up data.

`load_config` reads the config once at start (and the database dependency, app_dependency.py),
then runs the warm-up: it clears the readiness flag (var/run/ready), checks the warm-up data file
named in etc/service.json (`warmup.data_file`) and sets the flag again only when that file is
usable. `lock_problem` and `readiness_problem` (app.py) are checked on every request. The healthy
files of this family: faults_service.py.

The listen port is `listen_port` in etc/service.json, overridden (in this order) by
`server.port` in the same file, by drop-in files etc/service.d/*.json (`listen_port`, sorted by
name, the last wins) and by `PORT` in etc/service.env; the start log names where it came from.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

if __package__:  # imported as target_service.app_service (the runner, the tests)
    from . import root_layout as layout
    from .app_dependency import database_problem
    from .app_peers import peer_problem
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout
    from app_dependency import database_problem
    from app_peers import peer_problem

log = logging.getLogger("app")
DROPIN_DIR = "etc/service.d"
WARMUP_FORMAT = "warmup/2"


def _int_between(low: int, high: int) -> Callable[[str], Optional[str]]:
    def check(value: str) -> Optional[str]:
        if not re.fullmatch(r"\d+", value):
            return "is not a whole number"
        if not low <= int(value) <= high:
            return "is out of range (%d-%d)" % (low, high)
        return None
    return check


def _one_of(*choices: str) -> Callable[[str], Optional[str]]:
    def check(value: str) -> Optional[str]:
        return None if value in choices else "must be one of %s" % ", ".join(choices)
    return check


def _url(*schemes: str) -> Callable[[str], Optional[str]]:
    def check(value: str) -> Optional[str]:
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest.split("/")[0]:
            return "is not a %s URL" % "/".join(schemes)
        return None
    return check


# Required settings of etc/service.env and how each value is validated at start.
SETTING_RULES: Dict[str, Callable[[str], Optional[str]]] = {
    "DATABASE_URL": _url("postgresql", "postgres"),
    "CACHE_TTL_S": _int_between(0, 86400),
    "REQUEST_TIMEOUT_MS": _int_between(100, 60000),
    "WORKER_THREADS": _int_between(1, 64),
    "LOG_LEVEL": _one_of("DEBUG", "INFO", "WARNING", "ERROR"),
    "UPSTREAM_URL": _url("http", "https"),
}
REQUIRED_SETTINGS = tuple(SETTING_RULES)
INT_SETTINGS = ("CACHE_TTL_S", "REQUEST_TIMEOUT_MS", "WORKER_THREADS")


@dataclass
class ServiceConfig:
    """What the app read at start. `error` is the first config problem found (None = fine)."""

    instance: str = "unknown"   # reported in the health body; the verifier checks it
    service: str = "service"
    listen_host: str = "127.0.0.1"
    listen_port: Optional[int] = None
    port_source: str = "listen_port in %s" % layout.SERVICE_JSON
    settings: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None
    dependency_error: Optional[str] = None  # database unreachable (name resolution, login)
    lock_file: str = layout.LOCK_FILE        # the exclusive lock this instance must hold
    warmup_file: Optional[str] = None        # data file the warm-up loads (None: no warm-up)
    warmup_error: Optional[str] = None       # why the warm-up failed (the instance stays unready)
    peer_error: Optional[str] = None         # a peer service it calls is unreachable (app_peers.py)


def _parse_env(text: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _valid_port(port: object) -> bool:
    return isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536


def _safe_rel(rel: object) -> bool:
    return (isinstance(rel, str) and bool(rel.strip()) and not rel.startswith("/")
            and ".." not in rel.split("/"))


def resolve_port(root: Path, raw: dict, settings: Optional[Dict[str, str]]) -> Tuple[object, str]:
    """(port value, where it came from) by the precedence in the module docstring. The value is
    returned as found (may be invalid); `settings` None = etc/service.env not readable."""
    port: object = raw.get("listen_port")
    source = "listen_port in %s" % layout.SERVICE_JSON
    server = raw.get("server")
    if isinstance(server, dict) and "port" in server:
        port, source = server["port"], "server.port in %s" % layout.SERVICE_JSON
    dropins = root / DROPIN_DIR
    if dropins.is_dir():
        for path in sorted(dropins.glob("*.json")):
            rel = "%s/%s" % (DROPIN_DIR, path.name)
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                return None, "%s (not valid JSON: %s)" % (rel, exc)
            if isinstance(data, dict) and "listen_port" in data:
                port, source = data["listen_port"], "listen_port in %s" % rel
    if settings and "PORT" in settings:
        value = settings["PORT"]
        port = int(value) if re.fullmatch(r"\d+", value) else value
        source = "PORT in %s" % layout.SERVICE_ENV
    return port, source


def setting_problem(key: str, settings: Dict[str, str]) -> Optional[str]:
    """Why required setting `key` is unusable in `settings` (None = fine)."""
    if key not in settings:
        return "required setting %s missing from %s (see %s)" % (
            key, layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
    if not settings[key]:
        return "required setting %s is empty in %s (see %s)" % (
            key, layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
    why = SETTING_RULES[key](settings[key])
    if why:
        return "setting %s=%s in %s %s (see %s)" % (
            key, settings[key], layout.SERVICE_ENV, why, layout.SERVICE_ENV_EXAMPLE)
    return None


def load_config(root: Path) -> ServiceConfig:
    """Read etc/service.json and etc/service.env, then warm up; never raises, records the first
    error."""
    cfg = ServiceConfig()
    _clear_ready(root)
    try:
        raw = json.loads((root / layout.SERVICE_JSON).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("top level is not a JSON object")
    except FileNotFoundError:
        cfg.error = "config file %s is missing" % layout.SERVICE_JSON
        return cfg
    except (OSError, ValueError) as exc:
        cfg.error = "config file %s is not valid JSON: %s" % (layout.SERVICE_JSON, exc)
        return cfg
    cfg.instance = str(raw.get("instance") or raw.get("scenario") or "unknown")
    cfg.service = str(raw.get("service") or "service")
    cfg.listen_host = str(raw.get("listen_host") or "127.0.0.1")
    if isinstance(raw.get("lock_file"), str) and raw["lock_file"].strip():
        cfg.lock_file = raw["lock_file"].strip()
    settings: Optional[Dict[str, str]] = None
    settings_error: Optional[str] = None
    try:
        settings = _parse_env((root / layout.SERVICE_ENV).read_text(encoding="utf-8"))
    except FileNotFoundError:
        settings_error = "settings file %s is missing (see %s)" % (
            layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
    except OSError as exc:
        settings_error = "cannot read settings file %s: %s" % (layout.SERVICE_ENV, exc)
    port, cfg.port_source = resolve_port(root, raw, settings)
    if _valid_port(port):
        cfg.listen_port = port  # type: ignore[assignment]
        log.info("listen port %d (from %s)", port, cfg.port_source)
    else:
        cfg.error = "listen port (%s) must be an integer 1-65535 (got %r)" % (cfg.port_source, port)
        return cfg
    if settings is None:
        cfg.error = settings_error
        return cfg
    cfg.settings = settings
    for key in REQUIRED_SETTINGS:
        cfg.error = setting_problem(key, settings)
        if cfg.error:
            return cfg
    cfg.dependency_error = database_problem(root, settings["DATABASE_URL"])
    cfg.peer_error = peer_problem(root, raw, settings)
    warmup = raw.get("warmup")
    if isinstance(warmup, dict) and _safe_rel(warmup.get("data_file")):
        cfg.warmup_file = warmup["data_file"].strip()
        cfg.warmup_error = warmup_problem(root, cfg.warmup_file)
        if cfg.warmup_error:
            log.error("warm-up failed: %s; instance stays not ready", cfg.warmup_error)
            return cfg
        log.info("warm-up complete: loaded %s", cfg.warmup_file)
    _set_ready(root)
    return cfg


def warmup_problem(root: Path, rel: str) -> Optional[str]:
    """Whether the warm-up data file loads: a header `format=warmup/2 records=N`, then N records
    (`key<TAB>value`). None = usable."""
    try:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "data file %s not found" % rel
    except OSError as exc:
        return "cannot read data file %s: %s" % (rel, exc)
    lines = text.splitlines()
    if not lines:
        return "data file %s is empty (0 records)" % rel
    header = dict(part.partition("=")[::2] for part in lines[0].split() if "=" in part)
    if "format" not in header or not header.get("records", "").isdigit():
        return "data file %s has no valid header (expected 'format=%s records=N')" % (
            rel, WARMUP_FORMAT)
    if header["format"] != WARMUP_FORMAT:
        return "data file %s has format %s, this release reads %s" % (
            rel, header["format"], WARMUP_FORMAT)
    records = [line for line in lines[1:] if "\t" in line]
    if len(records) != int(header["records"]):
        return "data file %s is truncated: %d of %s records" % (rel, len(records), header["records"])
    return None


def _clear_ready(root: Path) -> None:
    try:
        (root / layout.READY_FLAG).unlink()
    except OSError:
        pass


def _set_ready(root: Path) -> None:
    path = root / layout.READY_FLAG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ready\n", encoding="utf-8")
    except OSError as exc:
        log.error("cannot write readiness flag %s: %s", layout.READY_FLAG, exc)


def lock_problem(root: Path, cfg: Optional[ServiceConfig] = None) -> Optional[str]:
    """The exclusive lock, as a service that refuses to run twice sees it: it cannot tell a dead
    owner from a live one, so any other pid in the file blocks it."""
    rel = cfg.lock_file if cfg is not None else layout.LOCK_FILE
    try:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return "cannot acquire lock %s: %s" % (rel, exc)
    match = re.search(r"\d+", text)
    if not match:
        return "cannot acquire lock %s: file exists (no owner pid in it)" % rel
    pid = int(match.group())
    if pid == os.getpid():
        return None  # our own lock
    return "cannot acquire lock %s: already held by pid %d; refusing requests" % (rel, pid)
