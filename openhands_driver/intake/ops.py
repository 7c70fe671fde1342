"""The intake's own operations surface (``/ops/*``) and the request hooks behind its metrics and logs.

    GET  /ops/status        composite healthy | degraded | unhealthy with reasons (+ the service's state)
    GET  /ops/health        deep checks (database write, workers, runbooks, escalation reachability);
                            503 when unhealthy
    GET  /ops/metrics       JSON; ?format=prometheus: the Prometheus exposition (prometheus-client)
    GET  /ops/config        the effective configuration, sanitized (no token, key or URL credential)
    GET  /ops/dependencies  what the intake needs and where it is
    GET  /ops/errors        the last warnings and errors of this process (?limit=N)
    GET  /ops/registry      the service registry (admin)
    POST /ops/loglevel      {"level": "DEBUG"} (admin)
    POST /ops/drain         refuse new alerts from now on (admin)

Roles are intake/roles.py's (viewer reads; admin for config, registry, loglevel, drain).
:func:`instrument` is registered first on the app: it times every request for the RED metrics,
binds the trace id (``X-Trace-Id`` or a fresh one, echoed in the response) to every log line the
request writes, and unbinds it when the request ends.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, g, jsonify, request

from openhands_driver.errors import UserError
from openhands_driver.intake import health, logs
from openhands_driver.intake.escalation import iso
from openhands_driver.intake.metrics import CONTENT_TYPE
from openhands_driver.intake.store import redact_payload
from openhands_driver.paths import SKILLS_DIR

if TYPE_CHECKING:
    from openhands_driver.intake.service import IntakeService

log = logging.getLogger("openhands_driver.intake.ops")
MAX_ERRORS = 200


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if hasattr(value, "__fspath__") else value


def safe_url(url: str | None) -> str | None:
    """A URL without credentials, query or fragment (where it points, not how it authenticates)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def sanitized_config(service: IntakeService) -> dict:
    config = _plain(service.config)
    for key in ("escalation_url", "trace_url_template"):
        config[key] = safe_url(config.get(key))
    config["auth"] = {"principal_ids": list(service.token_ids), "insecure_no_auth": service.config.insecure_no_auth}
    # values under secret-looking keys (token, routing_key, ...) and every known secret value
    return redact_payload(config, service.secrets)


def dependencies(service: IntakeService) -> list[dict]:
    config = service.config
    items = [{"name": "audit-db", "kind": "sqlite", "target": str(service.store.path), "required": True},
             {"name": "runbooks", "kind": "files", "target": str(SKILLS_DIR), "required": True},
             {"name": "escalation", "kind": "pagerduty-events-v2", "target": safe_url(config.escalation_url),
              "required": False, "configured": bool(config.escalation_url)}]
    describe = getattr(service.runner, "describe", None)
    items.append({"name": "workers", "kind": (describe() if callable(describe) else {}).get(
        "kind", type(service.runner).__name__), "target": "local", "required": True})
    for name, entry in sorted(service.registry.items()):
        data = _plain(entry)
        items.append({"name": f"service:{name}", "kind": data.get("backend") or data.get("kind") or "service",
                      "target": safe_url(data.get("url")) if isinstance(data.get("url"), str) else None,
                      "required": False})
    if config.demo_targets:
        items.append({"name": "demo-targets", "kind": "scenario catalog", "required": False,
                      "target": str(config.training_data or "training_data/scenarios.json")})
    return items


def instrument(app: Flask, service: IntakeService) -> None:
    """Request timing and trace ids; register before any other hook (it must see every request)."""

    @app.before_request
    def _begin():
        g.started = time.perf_counter()
        service.request_metrics.begin()
        g.trace_id = logs.trace_id_from(request.headers.get(logs.TRACE_HEADER))
        g.trace_token = logs.bind(g.trace_id)

    @app.after_request
    def _finish(response):
        started = g.get("started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else None
            service.request_metrics.observe(request.method, rule, response.status_code,
                                            time.perf_counter() - started)
        if g.get("trace_id"):
            response.headers[logs.TRACE_HEADER] = g.trace_id
        return response

    @app.teardown_request
    def _end(_exc=None):
        if g.get("started") is not None:
            service.request_metrics.end()
        token = g.pop("trace_token", None)
        if token is not None:
            logs.unbind(token)


def register(app: Flask, service: IntakeService, error) -> None:
    """The /ops/* routes; ``error(code, message)`` is the app's JSON error answer."""

    @app.get("/ops/status")
    def ops_status():
        status, reasons = health.composite(service, health.run(service))
        return jsonify({"status": status, "reasons": reasons, **service.status()})

    @app.get("/ops/health")
    def ops_health():
        checks = health.run(service, deep=True, timeout_s=min(service.config.escalation_timeout_s,
                                                               health.ESCALATION_TIMEOUT_S))
        status, reasons = health.composite(service, checks)
        body = {"status": status, "reasons": reasons, "checks": {c.name: c.to_dict() for c in checks}}
        return jsonify(body), 503 if status == health.UNHEALTHY else 200

    @app.get("/ops/metrics")
    def ops_metrics():
        if request.args.get("format") == "prometheus":
            return Response(service.request_metrics.exposition(), content_type=CONTENT_TYPE)
        red = service.request_metrics
        return jsonify({**service.metrics(), "http": red.red(), "http_in_flight": red.active})

    @app.get("/ops/config")
    def ops_config():
        return jsonify(sanitized_config(service))

    @app.get("/ops/dependencies")
    def ops_dependencies():
        return jsonify({"dependencies": dependencies(service)})

    @app.get("/ops/errors")
    def ops_errors():
        try:
            limit = max(1, min(int(request.args.get("limit", 50)), MAX_ERRORS))
        except ValueError:
            return error(400, "limit must be an integer")
        ring = service.errors
        return jsonify({"total": ring.total, "kept": ring.entries.maxlen,
                        "errors": [{**e, "at": iso(e["at"])} for e in ring.recent(limit)]})

    @app.get("/ops/registry")
    def ops_registry():
        return jsonify({"services": {name: _plain(entry) for name, entry in service.registry.items()}})

    @app.post("/ops/loglevel")
    def ops_loglevel():
        body = request.get_json(silent=True)
        level = body.get("level") if isinstance(body, dict) else None
        try:
            changed = logs.set_level(level)
        except UserError as exc:
            return error(400, f"{exc}; send JSON {{\"level\": \"DEBUG\"}}")
        who = g.principal.token_id if g.get("principal") else None
        log.warning("log level changed from %s to %s by %s", changed["previous"], changed["level"], who)
        return jsonify({**changed, "by": who})

    @app.post("/ops/drain")
    def ops_drain():
        service.drain()
        who = g.principal.token_id if g.get("principal") else None
        log.warning("draining: new alerts are refused from now on (by %s)", who)
        return jsonify({"state": "draining", "by": who})
