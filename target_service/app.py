"""The target service: a small Flask app whose health depends on files under its root.

Runs with only the stdlib + flask (also under Debian's python3 + python3-flask in a container,
where the root is "/"). Config is read once at start: settings, the resolver (etc/dns/resolv.conf)
used to find the database host, and the database credential (etc/secrets/db_password, checked
against var/lib/db/auth). At start the app also enforces the memory limit the supervisor passes
(SERVICE_MEMORY_LIMIT_MB from etc/limits.json) against its real peak RSS. Checked on every request:
the lock file, the readiness flag, feature flags (etc/flags.json, flagd format) and chaos schedules
(etc/chaos/*.json), which may delay requests for real or make them fail. `GET /` always answers
JSON:
    200 {"status": "ok", "scenario": id}
    500 {"status": "error", "scenario": id, "reason": "..."}

Serve: python app.py --root DIR   (normally started by supervisor.py)
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

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
FLAGS_FILE = "etc/flags.json"
CHAOS_DIR = "etc/chaos"
RESOLV_CONF = "etc/dns/resolv.conf"
DNS_DATA_DIR = "var/lib/dns"
SECRET_FILE = "etc/secrets/db_password"
DB_AUTH = "var/lib/db/auth"
MAX_DELAY_MS = 30000  # a delayed request never sleeps longer than this

log = logging.getLogger("app")


@dataclass
class ServiceConfig:
    """What the app read at start. `error` is the first config problem found (None = fine)."""

    scenario: str = "unknown"
    listen_host: str = "127.0.0.1"
    listen_port: Optional[int] = None
    settings: Dict[str, str] = field(default_factory=dict)
    error: Optional[str] = None
    dependency_error: Optional[str] = None  # database unreachable (name resolution, login)


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
    cfg.dependency_error = database_problem(root, cfg.settings["DATABASE_URL"])
    return cfg


# --- the database dependency: name resolution and login (checked at start) -------------------

def resolve_problem(root: Path, host: str) -> Optional[str]:
    """Resolve `host` with the service's resolver config; None when it resolves.

    Local model, no DNS traffic: a nameserver "answers" when var/lib/dns/<address>.hosts exists,
    and knows the names listed there. Short names are tried with each search domain first.
    """
    try:
        text = (root / RESOLV_CONF).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None  # no service resolver configured: nothing to check
    except OSError as exc:
        return "name resolution failed for %s: cannot read %s: %s" % (host, RESOLV_CONF, exc)
    nameservers: List[str] = []
    search: List[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["nameserver"] and len(words) > 1:
            nameservers.append(words[1])
        elif words[:1] in (["search"], ["domain"]):
            search = words[1:]
    if not nameservers:
        return "name resolution failed for %s: no nameserver configured in %s" % (host, RESOLV_CONF)
    names = [host] if "." in host else ["%s.%s" % (host, domain) for domain in search] + [host]
    answering = []
    for server in nameservers:
        zone = root / DNS_DATA_DIR / ("%s.hosts" % server)
        if not re.fullmatch(r"[0-9a-fA-F.:]+", server) or not zone.is_file():
            continue
        answering.append(server)
        known = {word for line in zone.read_text(encoding="utf-8").splitlines()
                 for word in line.split("#", 1)[0].split()[1:]}
        if any(name in known for name in names):
            return None
    if not answering:
        return "name resolution failed for %s: no answer from nameserver %s within 5s (%s)" % (
            host, ", ".join(nameservers), RESOLV_CONF)
    return "name resolution failed for %s: NXDOMAIN (tried %s via nameserver %s; %s)" % (
        host, ", ".join(names), ", ".join(answering), RESOLV_CONF)


def login_problem(root: Path, user: str) -> Optional[str]:
    """Log in to the (simulated) database with etc/secrets/db_password. Never prints the secret."""
    try:
        stored = (root / DB_AUTH).read_text(encoding="utf-8").strip().split(":")
    except FileNotFoundError:
        return None  # the database does not require a password
    except OSError as exc:
        return "database authentication failed for user %s: server error (%s)" % (user, exc)
    if len(stored) != 3 or stored[0] != user:
        return "database authentication failed for user %s: role does not exist" % user
    try:
        password = (root / SECRET_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "database authentication failed for user %s: no password (%s is missing)" % (
            user, SECRET_FILE)
    salt, expected = stored[1], stored[2]
    if hashlib.sha256(("%s/%s" % (salt, password)).encode("utf-8")).hexdigest() != expected:
        return "database authentication failed for user %s: password rejected (credential from %s)" % (
            user, SECRET_FILE)
    return None


def database_problem(root: Path, url: str) -> Optional[str]:
    """What stops the app from reaching its database (DATABASE_URL), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if host and host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            problem = resolve_problem(root, host)
            if problem:
                return problem
    return login_problem(root, parts.username or "app")


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


# --- per-request disruptions: feature flags and chaos schedules -------------------------------

@dataclass
class Disruption:
    """Something degrading requests right now: a real delay, a failure reason, or both."""

    source: str
    delay_ms: int = 0
    reason: Optional[str] = None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _flag_effect(name: str, variant: str, value: Any) -> Disruption:
    """What an OpenTelemetry Demo failure flag does to this service (symptom first)."""
    source = "feature flag %s is on (variant %r in %s)" % (name, variant, FLAGS_FILE)
    service = re.split(r"(?=[A-Z])", name)[0] or name
    lowered, number = name.lower(), _number(value)
    if "slowload" in lowered or "latency" in lowered:
        return Disruption(source, delay_ms=int(number) if number and number > 1 else 5000)
    if "highcpu" in lowered or "manualgc" in lowered:  # CPU saturation / GC pauses stall requests
        return Disruption(source, delay_ms=3000)
    if "flood" in lowered:
        symptom = "overloaded by a request flood; requests are being shed"
    elif "memoryleak" in lowered:
        symptom = "%s memory grows with every request (leak) until requests fail" % service
    elif "queue" in lowered:
        symptom = "message queue overloaded; consumer lag spike, requests time out"
    elif number is not None and 0 < number < 1:
        symptom = "%d%% of %s requests fail" % (round(number * 100), service)
    else:
        symptom = "%s requests fail" % service
    return Disruption(source, reason="%s: %s" % (source, symptom))


def flag_disruptions(root: Path) -> List[Disruption]:
    """Flags whose selected variant is truthy (flagd semantics; the file is re-read per request)."""
    try:
        flags = _dict(_dict(json.loads((root / FLAGS_FILE).read_text(encoding="utf-8"))).get("flags"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, AttributeError) as exc:
        return [Disruption(FLAGS_FILE, reason="feature flag config %s is invalid: %s"
                           % (FLAGS_FILE, exc))]
    found = []
    for name, flag in sorted(flags.items()):
        if not isinstance(flag, dict) or flag.get("state") != "ENABLED":
            continue
        variant = str(flag.get("defaultVariant"))
        value = _dict(flag.get("variants")).get(variant)
        if variant != "off" and value:
            found.append(_flag_effect(str(name), variant, value))
    return found


def _duration_ms(text: Any, default: int) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", str(text or ""))
    if not match:
        return default
    return int(float(match.group(1)) * {"ms": 1, "s": 1000, "m": 60000, None: 1}[match.group(2)])


def _chaos_effect(rel: str, spec: dict) -> Disruption:
    """What a Chaos Mesh experiment of the schedule does to this service (symptom first)."""
    kind = str(spec.get("type") or "")
    body = next((v for k, v in spec.items() if k.lower() == kind.lower() and isinstance(v, dict)), {})
    action = str(body.get("action") or next((k for k in ("abort", "patch", "replace", "delay")
                                             if body.get(k)), ""))
    what = " ".join(filter(None, (kind or "chaos experiment", action)))
    source = "%s from chaos schedule %s" % (what, rel)
    labels = _dict(_dict(_dict(body.get("target")).get("selector")).get("labelSelectors"))
    peer = ", ".join(str(v) for v in labels.values())  # NetworkChaos: traffic to these peers
    method = str(body.get("method") or "all")
    if action == "delay":
        latency = body.get("delay")  # HTTPChaos: "2s"; NetworkChaos: {"latency": "2s"}
        latency = _dict(latency).get("latency") if kind == "NetworkChaos" else latency
        return Disruption(source, delay_ms=_duration_ms(latency, 1000))
    if kind == "NetworkChaos" and peer:
        how = {"partition": "network unreachable"}.get(action, "connection timed out")
        return Disruption(source, reason="requests to dependency %s fail: %s" % (peer, how))
    if kind == "NetworkChaos":  # incoming packets dropped: clients time out
        return Disruption(source, delay_ms=MAX_DELAY_MS)
    if kind == "HTTPChaos" and action == "abort":
        return Disruption(source, reason="incoming %s requests are aborted before a response "
                                         "(connection reset)" % method)
    if kind == "HTTPChaos":
        return Disruption(source, reason="incoming %s requests arrive with tampered bodies and are "
                                         "rejected" % method)
    if kind == "StressChaos" and "memory" in _dict(body.get("stressors")):
        return Disruption(source, reason="memory pressure: stress workers hold the memory, "
                                         "allocations fail and requests error out")
    if kind in ("StressChaos", "IOChaos", "TimeChaos"):
        return Disruption(source, delay_ms=3000)
    if kind == "PodChaos":
        return Disruption(source, reason="service instance keeps being killed (%s)" % action)
    return Disruption(source, reason="requests fail while a fault injection is active")


def chaos_disruptions(root: Path) -> List[Disruption]:
    """Schedules in etc/chaos/*.json keep firing until deleted (or paused by annotation)."""
    found = []
    for path in sorted((root / CHAOS_DIR).glob("*.json")) if (root / CHAOS_DIR).is_dir() else []:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # Chaos Mesh rejects a malformed schedule: it injects nothing
        if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
            continue
        annotations = _dict(_dict(manifest.get("metadata")).get("annotations"))
        if str(annotations.get("experiment.chaos-mesh.org/pause")).lower() == "true":
            continue
        found.append(_chaos_effect("%s/%s" % (CHAOS_DIR, path.name), manifest["spec"]))
    return found


def health(root: Path, cfg: ServiceConfig,
           disruptions: Optional[List[Disruption]] = None) -> Optional[str]:
    """None when healthy, otherwise the reason. Order: config, lock, readiness, database,
    then per-request disruptions (feature flags, chaos schedules)."""
    if cfg.error:
        return cfg.error
    problem = lock_problem(root)
    if problem:
        return problem
    if not (root / READY_FLAG).exists():
        return "readiness flag %s is missing; service is not ready" % READY_FLAG
    if cfg.dependency_error:
        return cfg.dependency_error
    if disruptions is None:
        disruptions = flag_disruptions(root) + chaos_disruptions(root)
    return next((d.reason for d in disruptions if d.reason), None)


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
        reason = health(root, cfg, disruptions)
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

def memory_problem() -> Optional[str]:
    """The memory limit the supervisor passes (from etc/limits.json) against our real peak RSS."""
    limit = os.environ.get("SERVICE_MEMORY_LIMIT_MB", "")
    if not limit.isdigit():
        return None
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    peak_mb = peak_kb / (1024.0 * 1024.0) if sys.platform == "darwin" else peak_kb / 1024.0
    if peak_mb <= int(limit):
        return None
    return ("OOMKilled: working set %.0f MB exceeds the memory limit of %s MB (memory_mb in "
            "etc/limits.json)" % (peak_mb, limit))


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
    if cfg.dependency_error:
        log.error("cannot reach the database: %s (serving errors until fixed and restarted)",
                  cfg.dependency_error)

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
