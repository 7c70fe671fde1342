"""The /ops/* contract of the target's platform side, served by supervisor.py (stdlib only).

It answers even when the app is down (it lives in the supervisor). Every route needs
`Authorization: Bearer <token>`: the token comes from SRE_OPS_TOKEN (removed from the environment
before anything else starts) or is generated per start; it is written to var/run/ops.token (mode
0600) for the platform's owner and never logged. Where it listens is written to var/run/ops.json
({"url", "port"}; `ops_port` in etc/service.json fixes the port, else a free one). An `X-Trace-Id`
header is echoed back and logged with every change.

    GET  /ops/status        composite state + golden signals (rate, errors, latency, saturation)
    GET  /ops/health[?wait_s=N]  live probe of the app (until healthy, N s), supervisor state, dependencies
    GET  /ops/metrics       counters: requests by status, restarts, probes, latency, memory
    GET  /ops/config        etc/service.json + etc/service.env, secrets masked
    GET  /ops/dependencies  peers/hosts in the settings, reachability
    GET  /ops/errors?n=     the ERROR lines of the service log
    GET  /ops/logs?n=&level=&contains=
    GET  /ops/flags[?affecting=true]        POST /ops/flags {flag, defaultVariant|state}
    GET  /ops/experiments[?affecting=true]  POST /ops/experiments/{pause,resume,delete} {name[, namespace]}
    GET  /ops/releases                      POST /ops/rollback {revision|release}  (then restarts)
    GET  /ops/deployment                    POST /ops/scale {replicas}             (then restarts)
    POST /ops/restart, /ops/drain, /ops/loglevel {level}
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

if __package__:
    from . import ops_platform as platform_ops
    from .ops_platform import OpsError
else:
    import ops_platform as platform_ops
    from ops_platform import OpsError

OPS_JSON = "var/run/ops.json"
OPS_TOKEN = "var/run/ops.token"
LOG_LEVEL_FILE = "var/run/loglevel"
TOKEN_ENV = "SRE_OPS_TOKEN"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PROBE_TIMEOUT_S = 2.0


def _percentile(values: list, q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


class Platform:
    """What the routes need from the supervisor: its state, restart, drain, log."""

    def __init__(self, root: Path, log: Callable[[str], None], restart: Callable[[], None],
                 drain: Callable[[], None]) -> None:
        self.root, self.log, self.restart, self.drain = root, log, restart, drain
        self.latencies: deque = deque(maxlen=200)  # (ms, ok) of the probes this server ran
        self.probes = {"ok": 0, "failed": 0}

    def state(self) -> Dict[str, Any]:
        try:
            return json.loads((self.root / "var/run/supervisor.state").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"state": "unknown"}

    def probe(self) -> Dict[str, Any]:
        settings = platform_ops.service_settings(self.root)
        host = str(settings.get("listen_host") or "127.0.0.1")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = "http://%s:%s/" % (host, settings.get("listen_port"))
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.monotonic()
        code, body, error = None, {}, None
        try:
            with opener.open(urllib.request.Request(url, headers={"Accept": "application/json"}),
                             timeout=PROBE_TIMEOUT_S) as resp:
                code, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            code, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raw, error = b"", str(getattr(exc, "reason", exc)) or type(exc).__name__
        ms = (time.monotonic() - started) * 1000.0
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        ok = code == 200 and isinstance(body, dict) and body.get("status") == "ok"
        self.latencies.append((ms, ok))
        self.probes["ok" if ok else "failed"] += 1
        return {"ok": ok, "http_status": code, "latency_ms": round(ms, 1),
                "error": error or (None if ok else (body.get("error") if isinstance(body, dict) else None))}

    def saturation(self, app_pid: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {"load_avg_1m": round(os.getloadavg()[0], 2)}
        try:
            status = Path("/proc/%d/status" % int(app_pid)).read_text()
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    out["app_rss_mb"] = round(int(line.split()[1]) / 1024.0, 1)
                elif line.startswith("Threads:"):
                    out["app_threads"] = int(line.split()[1])
        except (OSError, ValueError, TypeError):
            out["app_rss_mb"] = None
        limit = os.environ.get("SERVICE_MEMORY_LIMIT_MB")
        out["memory_limit_mb"] = float(limit) if limit else None
        return out

    def signals(self, supervisor: Dict[str, Any]) -> Dict[str, Any]:
        seen = platform_ops.traffic(self.root)
        times = [ms for ms, _ok in self.latencies]
        return {"request_rate_per_s": seen["request_rate_per_s"], "error_rate": seen["error_rate"],
                "requests_in_window": seen["requests"], "window_s": seen["window_s"],
                "latency_ms": {"p50": _percentile(times, 0.5), "p99": _percentile(times, 0.99),
                               "samples": len(times), "source": "probes of this platform"},
                "saturation": self.saturation(supervisor.get("app_pid"))}

    # --- routes ---------------------------------------------------------------------------

    def get(self, path: str, query: Dict[str, str]) -> Dict[str, Any]:
        n = int(query.get("n") or 100) if str(query.get("n") or "100").isdigit() else 100
        affecting = str(query.get("affecting", "")).lower() in ("1", "true", "yes")
        if path == "/ops/status":
            supervisor, probe = self.state(), self.probe()
            running = supervisor.get("state") == "started"
            state = "healthy" if probe["ok"] else ("degraded" if running and probe["http_status"] else "unhealthy")
            return {"service": platform_ops.service_settings(self.root).get("service"), "state": state,
                    "healthy": probe["ok"], "probe": probe,
                    "supervisor": {k: supervisor.get(k) for k in ("state", "detail", "app_pid", "restarts")},
                    "golden_signals": self.signals(supervisor)}
        if path == "/ops/health":  # ?wait_s=N: probe until healthy, at most N (<= 30) seconds
            wait = min(float(query["wait_s"]), 30.0) if str(query.get("wait_s", "")).isdigit() else 0.0
            deadline = time.monotonic() + wait
            probe = self.probe()
            while not probe["ok"] and time.monotonic() < deadline:
                time.sleep(0.5)
                probe = self.probe()
            supervisor = self.state()
            deps = platform_ops.dependencies(self.root)
            return {"healthy": probe["ok"], "checks": {
                "process": {"ok": supervisor.get("state") == "started", "state": supervisor.get("state"),
                            "detail": supervisor.get("detail")},
                "probe": probe}, "dependencies": deps}
        if path == "/ops/metrics":
            supervisor = self.state()
            seen = platform_ops.traffic(self.root)
            return {"requests_by_status": seen["by_status"], "requests_in_window": seen["requests"],
                    "window_s": seen["window_s"], "restarts": supervisor.get("restarts"),
                    "probes": dict(self.probes), "golden_signals": self.signals(supervisor)}
        if path == "/ops/config":
            return platform_ops.sanitized_config(self.root)
        if path == "/ops/dependencies":
            return {"dependencies": platform_ops.dependencies(self.root)}
        if path == "/ops/errors":
            return {"errors": platform_ops.log_lines(self.root, n, level="ERROR")}
        if path == "/ops/logs":
            return {"lines": platform_ops.log_lines(self.root, n, query.get("level", ""),
                                                    query.get("contains", ""))}
        if path == "/ops/flags":
            return {"flags": platform_ops.list_flags(self.root, affecting)}
        if path == "/ops/experiments":
            return {"experiments": platform_ops.list_experiments(self.root, affecting)}
        if path == "/ops/releases":
            return platform_ops.releases(self.root)
        if path == "/ops/deployment":
            return {"deployment": platform_ops.deployment(self.root)}
        raise OpsError(404, "no route GET %s" % path)

    def post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        if path == "/ops/restart":
            self.restart()
            return {"restarting": True}
        if path == "/ops/drain":
            self.drain()
            return {"draining": True, "note": "the instance is stopped until POST /ops/restart"}
        if path == "/ops/loglevel":
            level = str(body.get("level") or "").upper()
            if level not in LEVELS:
                raise OpsError(400, "level must be one of %s, got %r" % (", ".join(LEVELS), body.get("level")))
            (self.root / LOG_LEVEL_FILE).write_text(level + "\n", encoding="utf-8")
            return {"level": level, "applies": "at the next restart"}
        if path == "/ops/flags":
            return platform_ops.set_flag(self.root, body)
        if path.startswith("/ops/experiments/"):
            verb = path.rsplit("/", 1)[1]
            if verb not in ("pause", "resume", "delete"):
                raise OpsError(404, "no route POST %s (pause, resume or delete)" % path)
            return platform_ops.change_experiment(self.root, body, verb)
        if path == "/ops/rollback":
            done = platform_ops.rollback(self.root, body)
            self.restart()
            return dict(done, restarting=True)
        if path == "/ops/scale":
            done = platform_ops.scale(self.root, body)
            self.restart()
            return dict(done, restarting=True)
        raise OpsError(404, "no route POST %s" % path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # the request line could carry nothing secret, but
        return                                   # the service log is for the service

    def _send(self, status: int, payload: Dict[str, Any]) -> None:
        data = (json.dumps(payload) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        trace = self.headers.get("X-Trace-Id")
        if trace:
            self.send_header("X-Trace-Id", trace[:128])
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        expected = "Bearer " + self.server.token
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        if not self._authorized():
            self._send(401, {"error": "missing or wrong bearer token (Authorization: Bearer <token>)"})
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        platform = self.server.platform
        try:
            if method == "GET":
                self._send(200, platform.get(parts.path.rstrip("/"), query))
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 65536)) if length else b"{}"
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise OpsError(400, "the body must be a JSON object")
            result = platform.post(parts.path.rstrip("/"), body)
            platform.log("ops: POST %s %s (trace %s)" % (parts.path, json.dumps(body, sort_keys=True)[:200],
                                                          self.headers.get("X-Trace-Id", "-")[:64]))
            self._send(200, result)
        except OpsError as exc:
            self._send(exc.status, {"error": str(exc)})
        except ValueError as exc:
            self._send(400, {"error": "bad request: %s" % exc})
        except Exception as exc:  # the platform side must keep answering
            self._send(500, {"error": "%s: %s" % (type(exc).__name__, exc)})

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    platform: Platform
    token: str


def take_token() -> str:
    """The per-incident token: SRE_OPS_TOKEN (then removed from our environment), else a new one."""
    return os.environ.pop(TOKEN_ENV, "") or secrets.token_urlsafe(24)


def _service_ports(root: Path, settings: dict) -> set:
    """Ports the service is configured to use (listen_port, ...) or expected on (the upstream's
    backend, i.e. the port a fix moves the app to): ours must differ."""
    ports = {v for k, v in settings.items() if k.endswith("port") and k != "ops_port" and isinstance(v, int)}
    try:
        backend = json.loads((root / "etc/upstream.json").read_text(encoding="utf-8")).get("backend")
        ports.add(int(str(backend).rsplit(":", 1)[1]))
    except (OSError, ValueError, AttributeError, IndexError):
        pass
    return ports


def _bind(host: str, port: int, avoid: set) -> "_Server":
    """Bind ``port``, or with 0 a free port the kernel picks that none of ``avoid`` is: the app's port
    is chosen before the app binds it, so the kernel may offer it to us first."""
    if port:
        return _Server((host, port), _Handler)
    refused = []
    try:
        for _ in range(32):
            server = _Server((host, 0), _Handler)
            if server.server_address[1] not in avoid:
                return server
            refused.append(server)  # held open until we have one, so it is not offered again
        raise OSError("no free port for the ops API outside the service's own ports %s" % sorted(avoid))
    finally:
        for server in refused:
            server.server_close()


def serve(platform: Platform, token: str) -> Tuple[_Server, threading.Thread]:
    """Listen (listen_host, `ops_port` or a free port), record where and the token; serve in a thread."""
    settings = platform_ops.service_settings(platform.root)
    host = str(settings.get("listen_host") or "127.0.0.1")
    port = settings.get("ops_port") if isinstance(settings.get("ops_port"), int) else 0
    server = _bind(host, port, _service_ports(platform.root, settings))
    server.platform, server.token = platform, token
    bound = server.server_address[1]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    run = platform.root / "var/run"
    run.mkdir(parents=True, exist_ok=True)
    token_path = run / "ops.token"
    fd = os.open(str(token_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    (run / "ops.json").write_text(json.dumps({"url": "http://%s:%d" % (shown, bound), "port": bound})
                                  + "\n", encoding="utf-8")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="ops-api", daemon=True)
    thread.start()
    return server, thread
