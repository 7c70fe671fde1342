"""The target service: a small Flask app whose health depends on files under its root.

Runs with only the stdlib + flask (also under Debian's python3 + python3-flask in a container,
where the root is "/" and these files live flat in /app). Config is read once at start: settings,
the resolver (etc/dns/resolv.conf) used to find the database host, and the database credential
(etc/secrets/db_password, checked against var/lib/db/auth). At start the app also enforces the
memory limit the supervisor passes (SERVICE_MEMORY_LIMIT_MB, from its limits file) against its
real peak RSS. Checked on every request: the lock file, the readiness flag, feature flags
(etc/flags.json, flagd format) and chaos schedules (etc/chaos/*.json), which may delay requests
for real or make them fail. `GET /` always answers JSON, generic like a real service's:
    200 {"status": "ok", "instance": id}
    500/503 {"status": "error", "instance": id, "error": "Internal Server Error"}
The cause goes where a real engineer looks for it: an ERROR line in var/log/service.log.
`instance` is the id the verifier checks (an opaque token in blind runs).

The checks live with the family of faults they detect (this module re-exports them):
    app_service.py     config (etc/service.json, etc/service.env) and the lock file
    app_dependency.py  the database: name resolution and login
    app_traffic.py     per-request disruptions: feature flags, chaos schedules
This module puts them in order (`health`), serves them (`create_app`) and runs the server.

Serve: python app.py --root DIR   (normally started by supervisor.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

from flask import Flask, Response

# Siblings are modules of the target_service namespace package when imported from the repo, and
# top-level modules when this file runs as a script (supervisor.py runs it; flat in /app in the
# container). `*` re-exports the public names of each module.
if __package__:
    from .pidfiles import remove_own_pid, write_pid
    from .root_layout import *  # noqa: F401,F403
    from .app_dependency import *  # noqa: F401,F403
    from .app_service import *  # noqa: F401,F403
    from .app_traffic import *  # noqa: F401,F403
    from .app_probes import HEALTH_PATH, probe_gate
    from .app_routes import route_problem
    from .app_policy import policy_problem
else:
    from pidfiles import remove_own_pid, write_pid
    from root_layout import *  # noqa: F401,F403
    from app_dependency import *  # noqa: F401,F403
    from app_service import *  # noqa: F401,F403
    from app_traffic import *  # noqa: F401,F403
    from app_probes import HEALTH_PATH, probe_gate
    from app_routes import route_problem
    from app_policy import policy_problem

log = logging.getLogger("app")
HTTP_REASONS = {403: "Forbidden", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def problem(root: Path, cfg: ServiceConfig,
            disruptions: Optional[List[Disruption]] = None) -> Optional[Tuple[int, str]]:
    """None when healthy, else (HTTP status, reason for the log). Order: config, lock,
    readiness, database, then per-request disruptions (feature flags, chaos schedules)."""
    if cfg.error:
        return 500, cfg.error
    locked = lock_problem(root, cfg)
    if locked:
        return 503, locked
    not_ready = readiness_problem(root, cfg)
    if not_ready:
        return 503, not_ready
    out_of_rotation = probe_gate(root)  # the supervisor's readiness probe (app_probes.py)
    if out_of_rotation:
        return 503, out_of_rotation
    unrouted = route_problem(root, cfg.service, cfg.listen_port)  # the routing entry (app_routes.py)
    if unrouted:
        return 503, unrouted
    refused = policy_problem(root, cfg.service, cfg.listen_port)  # the gateway's policies (app_policy.py)
    if refused:
        return refused
    if cfg.dependency_error:
        return 500, cfg.dependency_error
    if getattr(cfg, "peer_error", None):
        return 500, cfg.peer_error
    if disruptions is None:
        disruptions = flag_disruptions(root) + chaos_disruptions(root)
    reason = next((d.reason for d in disruptions if d.reason), None)
    return (500, reason) if reason else None


def health(root: Path, cfg: ServiceConfig,
           disruptions: Optional[List[Disruption]] = None) -> Optional[str]:
    """None when healthy, otherwise the reason (what the log says)."""
    found = problem(root, cfg, disruptions)
    return found[1] if found else None


def readiness_problem(root: Path, cfg: ServiceConfig) -> Optional[str]:
    """The readiness flag, as a probe sees it: the warm-up at start (app_service.load_config)
    clears it and sets it again only when the warm-up data loaded."""
    if not (root / READY_FLAG).exists():
        why = ("warm-up at start failed: %s" % cfg.warmup_error if cfg.warmup_error
               else "warm-up did not complete")
        return "readiness check failed: %s not present (%s); not accepting traffic" % (
            READY_FLAG, why)
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
        disruptions = flag_disruptions(root) + chaos_disruptions(root)
        for disruption in disruptions:
            log.info("request affected by %s", disruption.source)
        delay_ms = min(max([d.delay_ms for d in disruptions] or [0]), MAX_DELAY_MS)
        if delay_ms:
            time.sleep(delay_ms / 1000.0)  # a real delay: clients with a short timeout give up
        found = problem(root, cfg, disruptions)
        if found is None:
            return _json({"status": "ok", "instance": cfg.instance}, 200)
        status, reason = found
        log.error("GET / -> %d: %s", status, reason)
        return _json({"status": "error", "instance": cfg.instance,
                      "error": HTTP_REASONS.get(status, "Error")}, status)

    @app.route(HEALTH_PATH, methods=["GET", "HEAD"])
    def healthz() -> Response:
        """Liveness: the process serves requests (what probes are meant to call)."""
        return _json({"status": "alive"}, 200)

    @app.errorhandler(Exception)
    def on_error(exc: Exception) -> Response:
        code = getattr(exc, "code", None)
        if not isinstance(code, int):
            log.exception("unhandled error")
            code = 500
        return _json({"status": "error", "instance": cfg.instance,
                      "error": "%d %s" % (code, getattr(exc, "name", type(exc).__name__))}, code)

    return app


# --- serving ---------------------------------------------------------------------------------

def memory_problem() -> Optional[str]:
    """The memory limit the supervisor passes (SERVICE_MEMORY_LIMIT_MB, from the limits file
    named in etc/service.json) against our real peak RSS; SERVICE_MEMORY_LIMIT_SOURCE says
    where it was set, for the log."""
    try:
        limit = float(os.environ.get("SERVICE_MEMORY_LIMIT_MB", ""))
    except ValueError:
        return None
    if limit <= 0:
        return None
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    peak_mb = peak_kb / (1024.0 * 1024.0) if sys.platform == "darwin" else peak_kb / 1024.0
    if peak_mb <= limit:
        return None
    source = os.environ.get("SERVICE_MEMORY_LIMIT_SOURCE") or "%g MB" % limit
    return "OOMKilled: working set %.0f MiB exceeds the memory limit of %s" % (peak_mb, source)


def _setup_logging(root: Path) -> None:
    path = root / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(str(path), mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter(
        "%(asctime)s app[%(process)d] %(levelname)s %(message)s"))
    root_logger = logging.getLogger()
    root_logger.handlers[:] = [handler]
    level = os.environ.get("SERVICE_LOG_LEVEL", "INFO")  # POST /ops/loglevel, via the supervisor
    root_logger.setLevel(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")


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
        log.error("configuration error: %s", cfg.error)
    if cfg.dependency_error:
        log.error("database connection failed: %s", cfg.dependency_error)

    from werkzeug.serving import WSGIRequestHandler, make_server

    oom = memory_problem()
    if oom:
        log.error("%s; exiting with code 137", oom)
        return 137

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
    write_pid(pid_path)
    log.info("%s listening on %s:%d", cfg.service, cfg.listen_host, cfg.listen_port)
    try:
        server.serve_forever(poll_interval=0.5)
    except _Stop as stop:
        log.info("stopping on signal %s", stop.args[0])
    finally:
        server.server_close()
        remove_own_pid(pid_path)
    return 0


if __name__ == "__main__":
    _code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_code)  # skip interpreter teardown so a restart is quick
