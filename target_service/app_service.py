"""The service's own config and files: etc/service.json, etc/service.env, the lock file.

`load_config` reads the config once at start (and the database dependency, app_dependency.py);
`lock_problem` is checked on every request. Faults of these files: faults_service.py.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

if __package__:  # imported as target_service.app_service (the runner, the tests)
    from . import root_layout as layout
    from .app_dependency import database_problem
else:  # run flat: python app.py, or /app in the container
    import root_layout as layout
    from app_dependency import database_problem

REQUIRED_SETTINGS = ("DATABASE_URL", "CACHE_TTL_S")
INT_SETTINGS = ("CACHE_TTL_S",)


@dataclass
class ServiceConfig:
    """What the app read at start. `error` is the first config problem found (None = fine)."""

    instance: str = "unknown"   # reported in the health body; the verifier checks it
    service: str = "service"
    listen_host: str = "127.0.0.1"
    listen_port: Optional[int] = None
    settings: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None
    dependency_error: Optional[str] = None  # database unreachable (name resolution, login)
    lock_file: str = layout.LOCK_FILE        # the exclusive lock this instance must hold


def _parse_env(text: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def load_config(root: Path) -> ServiceConfig:
    """Read etc/service.json and etc/service.env; never raises, records the first error."""
    cfg = ServiceConfig()
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
    port = raw.get("listen_port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        cfg.listen_port = port
    else:
        cfg.error = "listen_port in %s must be an integer 1-65535 (got %r)" % (
            layout.SERVICE_JSON, port)
        return cfg
    try:
        cfg.settings = _parse_env((root / layout.SERVICE_ENV).read_text(encoding="utf-8"))
    except FileNotFoundError:
        cfg.error = "settings file %s is missing (see %s)" % (
            layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
        return cfg
    except OSError as exc:
        cfg.error = "cannot read settings file %s: %s" % (layout.SERVICE_ENV, exc)
        return cfg
    for key in REQUIRED_SETTINGS:
        if key not in cfg.settings:
            cfg.error = "required setting %s missing from %s (see %s)" % (
                key, layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
            return cfg
        if not cfg.settings[key]:
            cfg.error = "required setting %s is empty in %s (see %s)" % (
                key, layout.SERVICE_ENV, layout.SERVICE_ENV_EXAMPLE)
            return cfg
    for key in INT_SETTINGS:
        if not re.fullmatch(r"\d+", cfg.settings[key]):
            cfg.error = "setting %s=%s in %s is not a whole number of seconds" % (
                key, cfg.settings[key], layout.SERVICE_ENV)
            return cfg
    cfg.dependency_error = database_problem(root, cfg.settings["DATABASE_URL"])
    return cfg


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

