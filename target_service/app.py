"""The target service: a small Flask app whose health depends on files under its root.

Runs with only the stdlib + flask (also under Debian's python3 + python3-flask in a container,
where the root is "/"). Config is read once at start; the lock file and readiness flag are checked
on every request. `GET /` always answers JSON:
    200 {"status": "ok", "scenario": id}
    500 {"status": "error", "scenario": id, "reason": "..."}

Serve: python app.py --root DIR   (normally started by supervisor.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from flask import Flask, Response

SERVICE_JSON = "etc/service.json"
SERVICE_ENV = "etc/service.env"
SERVICE_ENV_EXAMPLE = "etc/service.env.example"
LOCK_FILE = "var/lock/service.lock"
READY_FLAG = "var/run/ready"
APP_PID = "var/run/app.pid"
LOG_FILE = "var/log/service.log"
REQUIRED_SETTINGS = ("DATABASE_URL", "CACHE_TTL_S")
INT_SETTINGS = ("CACHE_TTL_S",)

log = logging.getLogger("app")


@dataclass
class ServiceConfig:
    """What the app read at start. `error` is the first config problem found (None = fine)."""

    scenario: str = "unknown"
    listen_host: str = "127.0.0.1"
    listen_port: Optional[int] = None
    settings: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None


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
        raw = json.loads((root / SERVICE_JSON).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("top level is not a JSON object")
    except FileNotFoundError:
        cfg.error = "config file %s is missing" % SERVICE_JSON
        return cfg
    except (OSError, ValueError) as exc:
        cfg.error = "config file %s is not valid JSON: %s" % (SERVICE_JSON, exc)
        return cfg
    cfg.scenario = str(raw.get("scenario") or "unknown")
    cfg.listen_host = str(raw.get("listen_host") or "127.0.0.1")
    port = raw.get("listen_port")
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
        cfg.listen_port = port
    else:
        cfg.error = "listen_port in %s must be an integer 1-65535 (got %r)" % (SERVICE_JSON, port)
        return cfg
    try:
        cfg.settings = _parse_env((root / SERVICE_ENV).read_text(encoding="utf-8"))
    except FileNotFoundError:
        cfg.error = "settings file %s is missing (see %s)" % (SERVICE_ENV, SERVICE_ENV_EXAMPLE)
        return cfg
    except OSError as exc:
        cfg.error = "cannot read settings file %s: %s" % (SERVICE_ENV, exc)
        return cfg
    for key in REQUIRED_SETTINGS:
        if key not in cfg.settings:
            cfg.error = "required setting %s missing from %s (see %s)" % (
                key, SERVICE_ENV, SERVICE_ENV_EXAMPLE)
            return cfg
        if not cfg.settings[key]:
            cfg.error = "required setting %s is empty in %s (see %s)" % (
                key, SERVICE_ENV, SERVICE_ENV_EXAMPLE)
            return cfg
    for key in INT_SETTINGS:
        if not re.fullmatch(r"\d+", cfg.settings[key]):
            cfg.error = "setting %s=%s in %s is not a whole number of seconds" % (
                key, cfg.settings[key], SERVICE_ENV)
            return cfg
    return cfg


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_problem(root: Path) -> Optional[str]:
    """Describe the lock file the way a service that refuses to run twice would."""
    path = root / LOCK_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return "lock file %s present but unreadable: %s" % (LOCK_FILE, exc)
    match = re.search(r"\d+", text)
    if not match:
        return "lock file %s present with no owner pid" % LOCK_FILE
    pid = int(match.group())
    if pid == os.getpid():
        return None  # our own lock (not used today, but a real service might write one)
    if _pid_running(pid):
        return "lock file %s held by pid %d (another instance is running)" % (LOCK_FILE, pid)
    return "stale lock file %s held by pid %d which is not running" % (LOCK_FILE, pid)


def health(root: Path, cfg: ServiceConfig) -> Optional[str]:
    """None when healthy, otherwise the reason. Order: config, lock, readiness."""
    if cfg.error:
        return cfg.error
    problem = lock_problem(root)
    if problem:
        return problem
    if not (root / READY_FLAG).exists():
        return "readiness flag %s is missing; service is not ready" % READY_FLAG
    return None


def _json(payload: dict, status: int) -> Response:
    resp = Response(json.dumps(payload) + "\n", status=status, mimetype="application/json")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def create_app(root: Path, config: Optional[ServiceConfig] = None) -> Flask:
    """App factory. Config is read now (service start); health is re-checked per request."""
    root = Path(root)
    cfg = config if config is not None else load_config(root)
    app = Flask("target_service", root_path=os.path.dirname(os.path.abspath(__file__)))
    app.config["SERVICE_ROOT"] = str(root)
    app.config["SERVICE_CONFIG"] = cfg

    @app.route("/", methods=["GET", "HEAD"])
    def index() -> Response:
        reason = health(root, cfg)
        if reason is None:
            return _json({"status": "ok", "scenario": cfg.scenario}, 200)
        return _json({"status": "error", "scenario": cfg.scenario, "reason": reason}, 500)

    @app.errorhandler(Exception)
    def on_error(exc: Exception) -> Response:
        code = getattr(exc, "code", None)
        if not isinstance(code, int):
            log.exception("unhandled error")
            code = 500
        return _json({"status": "error", "scenario": cfg.scenario,
                      "reason": "%d %s" % (code, getattr(exc, "name", type(exc).__name__))}, code)

    return app


# --- serving ---------------------------------------------------------------------------------

def _setup_logging(root: Path) -> None:
    path = root / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(str(path), mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(
        "%(asctime)s app[%(process)d] %(levelname)s %(message)s"))
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    root_logger.setLevel(logging.INFO)


def _write_pid(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".%d.tmp" % os.getpid())
    tmp.write_text("%d\n" % os.getpid(), encoding="utf-8")
    os.replace(str(tmp), str(path))


def _remove_own_pid(path: Path) -> None:
    try:
        if path.read_text(encoding="utf-8").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


class _Stop(Exception):
    pass


def _on_signal(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the target service.")
    parser.add_argument("--root", required=True, help="service root directory ('/' in a container)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    _setup_logging(root)
    cfg = load_config(root)
    if cfg.listen_port is None:
        log.error("cannot start: %s", cfg.error)
        return 2
    if cfg.error:
        log.error("configuration error: %s (serving errors until fixed and restarted)", cfg.error)

    from werkzeug.serving import WSGIRequestHandler, make_server

    class PlainRequestHandler(WSGIRequestHandler):
        """Request log lines without terminal colour codes (the log is a file)."""

        def log_request(self, code: object = "-", size: object = "-") -> None:
            self.log("info", '"%s" %s %s', self.requestline, getattr(code, "value", code), size)

    app = create_app(root, cfg)
    try:
        server = make_server(cfg.listen_host, cfg.listen_port, app, threaded=True,
                             request_handler=PlainRequestHandler)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", cfg.listen_host, cfg.listen_port, exc)
        return 3
    except SystemExit:  # werkzeug prints why (e.g. port in use) to stderr, then exits
        log.error("cannot listen on %s:%d (address in use or not available; see the line above)",
                  cfg.listen_host, cfg.listen_port)
        return 3
    pid_path = root / APP_PID
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    _write_pid(pid_path)
    log.info("listening on %s:%d (scenario %s)", cfg.listen_host, cfg.listen_port, cfg.scenario)
    try:
        server.serve_forever(poll_interval=0.5)
    except _Stop as stop:
        log.info("stopping on signal %s", stop.args[0])
    finally:
        server.server_close()
        _remove_own_pid(pid_path)
    return 0


if __name__ == "__main__":
    _code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)  # skip interpreter teardown so a restart is quick
