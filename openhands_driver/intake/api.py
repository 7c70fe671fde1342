"""The intake's HTTP surface: a Flask app over an :class:`~.service.IntakeService`.

    POST /webhook/{alertmanager,gcp,servicenow,generic}  -> 202 {"execution_id", "status", "incidents"}
    GET  /executions/<id>            one execution: status, timeline, phases, actions, service_up, ...
    GET  /executions?status=active   (or any status, or all; &limit=N)
    GET  /healthz                    no auth; 503 while draining
    GET  /openapi.json, /docs        no auth; the OpenAPI document of every route (openapi.py)
    GET  /ops/...                    the intake's own operations surface (ops.py: status, health,
                                     metrics, config, dependencies, errors; POST loglevel, drain)
    POST /api/v1/incident/trigger-agent, GET /api/v1/incident/...   the ServiceNow execution API (servicenow.py)
    GET  /, /login, /ui/...          the web dashboard (openhands_driver/dashboard/)

The dashboard's pages sign in through a form and a session cookie (see dashboard/auth.py).

Every endpoint but /healthz, /openapi.json and /docs needs ``Authorization: Bearer <token>`` whose role allows it
(roles.py: viewer reads, operator posts alerts and approves/rejects/resumes, admin has the
registry and drain; compared in constant time); a request that changes something, and every
refusal, is in the audit trail with the token's id. Errors are JSON ``{"error": ...}`` with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from openhands_driver.intake import servicenow
from openhands_driver.intake.escalation import iso
from openhands_driver.intake.payloads import PARSERS, PayloadError, decode, parse
from openhands_driver.intake.store import ACTIVE, STATUSES

if TYPE_CHECKING:
    from openhands_driver.intake.service import IntakeService

MAX_LIST = 1000
log = logging.getLogger("openhands_driver.intake.api")


def _error(code: int, message: str, **headers: str) -> tuple[Response, int]:
    response = jsonify({"error": message})
    response.headers.update(headers)
    return response, code


def execution_view(data: dict) -> dict:
    """The public JSON of one execution (times as ISO 8601 UTC)."""
    run = data.get("result") or {}
    return {
        "execution_id": data["id"], "status": data["status"], "reason": data["reason"],
        "priority": data["priority"], "service": data["service"], "source": data["source"],
        "dedupe_key": data["dedupe_key"], "title": data["title"], "incident": data["incident"],
        "target": data["plan"], "alert_count": data["alert_count"], "attempts": data["attempts"],
        "created_at": iso(data["created_at"]), "started_at": iso(data["started_at"]),
        "finished_at": iso(data["finished_at"]), "expires_at": iso(data["expires_at"]),
        "service_up": data["service_up"], "verification": data["verification"],
        "run": {k: run.get(k) for k in ("run_id", "status", "skill_id", "tokens", "tokens_used",
                                        "agent_message", "error", "duration_s", "target", "pause")} if run else None,
        "timeline": [{**e, "at": iso(e["at"])} for e in data["timeline"]],
        "phases": [{"phase": e["name"], "at": iso(e["at"]), "detail": e["detail"]}
                   for e in data["timeline"] if e["kind"] == "phase"],
        "actions": [{k: v for k, v in a.items() if k != "output_excerpt"} for a in data["actions"]],
        "escalations": [{"id": e["id"], "reason": e["reason"], "state": e["state"],
                         "attempts": e["attempts"], "last_error": e["last_error"],
                         "sent_at": iso(e["sent_at"]), "dedup_key": e["dedup_key"],
                         "attempt_log": [{**a, "at": iso(a["at"])} for a in e["attempt_log"]]}
                        for e in data["escalations"]],
        "report": data["report_path"],
    }


def create_app(service: IntakeService) -> Flask:
    app = Flask("openhands_driver.intake")
    app.config["MAX_CONTENT_LENGTH"] = service.config.max_body_bytes
    from openhands_driver.intake import ops, roles

    ops.instrument(app, service)  # first: times every request, binds its trace id (logs.py)

    tokens = roles.load(service.config.token, service.config.tokens_file)

    def audit(status: int, detail: str = "") -> None:
        principal = g.get("principal")
        try:
            service.store.record_access(principal.token_id if principal else None,
                                        principal.role if principal else None, request.method, request.path,
                                        status, service.clock(), detail)
        except Exception:  # noqa: BLE001 - the answer must not depend on the audit write
            app.logger.exception("audit write failed")

    @app.before_request
    def authenticate():
        g.principal = None
        if request.path in roles.PUBLIC or request.blueprint == "dashboard" or not tokens:
            return None  # the dashboard checks its own session (dashboard/auth.py)
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        principal = tokens.identify(supplied.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            audit(401, "missing or unknown bearer token")
            return _error(401, "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                          f"(SRE_INTAKE_TOKEN or one of {roles.ENV_TOKENS})",
                          **{"WWW-Authenticate": 'Bearer realm="sre-intake"'})
        g.principal = principal
        needed = roles.required_role(request.method, request.path)
        if not principal.may(needed):
            audit(403, f"needs {needed}")
            return _error(403, f"token {principal.token_id!r} (role {principal.role}) may not "
                          f"{request.method} {request.path}: that needs the {needed} role")
        return None

    @app.after_request
    def audit_changes(response):
        if request.method not in ("GET", "HEAD", "OPTIONS") and g.get("principal") is not None:
            audit(response.status_code)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, f"{exc.name}: {exc.description}")

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        app.logger.exception("internal error")
        return _error(500, f"internal error ({type(exc).__name__}); see the service log")

    from openhands_driver.dashboard.app import register
    from openhands_driver.dashboard.sources import IntakeSource

    dashboard = IntakeSource(service, results=list(service.config.results),
                             template=service.config.trace_url_template)
    service.dashboard_jobs = dashboard.jobs  # stopped with the service
    register(app, dashboard, token=service.config.token, tokens=tokens)  # any role signs in; operator acts
    app.register_blueprint(servicenow.blueprint(service))  # /api/v1/incident/... (servicenow.py)
    service.telemetry.instrument_app(app)  # webhook counts, alert spans (telemetry.py)
    from openhands_driver.intake import openapi

    openapi.register(app)  # /openapi.json + /docs, generated from app.url_map

    @app.post("/webhook/<source>")
    def webhook(source: str):
        if source not in PARSERS:
            return _error(404, f"unknown webhook source {source!r}; valid: {', '.join(PARSERS)}")
        if not service.accepting:
            return _error(503, "the intake is shutting down and accepts no new alerts",
                          **{"Retry-After": "30"})
        raw = request.get_data(cache=False)
        body = None
        if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
            reason = (f"Content-Type {request.mimetype or '(none)'} is not JSON; send "
                      "'Content-Type: application/json'")
            service.reject(source, raw, reason)
            return _error(415, reason)
        try:
            body = decode(raw)
            items = [(incident, {} if incident.resolved else service.plan_for(incident))
                     for incident in parse(source, body)]
        except PayloadError as exc:
            service.reject(source, body if body is not None else raw, str(exc))
            log.info("rejected a %s delivery: %s", source, exc)
            return _error(400, f"bad {source} payload: {exc}")
        results = service.accept(source, body, items)
        for item in results:
            log.info("alert %s", item["status"], extra={"execution_id": item["execution_id"], "source": source})
        return jsonify({"execution_id": results[0]["execution_id"], "status": results[0]["status"],
                        "incidents": results}), 202

    @app.get("/executions/<execution_id>")
    def get_execution(execution_id: str):
        data = service.store.execution(execution_id)
        if data is None:
            return _error(404, f"no execution {execution_id!r}")
        return jsonify(execution_view(data))

    @app.get("/executions")
    def list_executions():
        wanted = request.args.get("status", "all")
        if wanted == "active":
            statuses: tuple[str, ...] | None = ACTIVE
        elif wanted == "all":
            statuses = None
        elif all(s in STATUSES for s in wanted.split(",")):
            statuses = tuple(wanted.split(","))
        else:
            return _error(400, f"unknown status {wanted!r}; use active, all or one of {', '.join(STATUSES)}")
        try:
            limit = max(1, min(int(request.args.get("limit", 100)), MAX_LIST))  # clamped to 1..MAX_LIST
        except ValueError:
            return _error(400, "limit must be an integer")
        rows = service.store.executions(statuses, limit)
        for row in rows:
            row["execution_id"] = row.pop("id")
            for key in ("created_at", "started_at", "finished_at"):
                row[key] = iso(row[key])
            row["service_up"] = None if row["service_up"] is None else bool(row["service_up"])
        return jsonify({"status": wanted, "count": len(rows), "executions": rows})

    @app.get("/healthz")
    def healthz():
        if not service.accepting:
            return jsonify({"status": "draining"}), 503
        return jsonify({"status": "ok"})

    def _awaiting(execution_id: str):
        data = service.store.execution(execution_id)
        if data is None:
            return None, _error(404, f"no execution {execution_id!r}")
        if data["status"] != "awaiting_operator":
            return None, _error(409, f"execution {execution_id} is {data['status']}, not awaiting_operator; "
                                "only a run paused after diagnosis can be resumed or rejected")
        return data, None

    def _body() -> dict:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}

    @app.post("/executions/<execution_id>/resume")
    @app.post("/executions/<execution_id>/approve")
    def resume_execution(execution_id: str):
        data, refused = _awaiting(execution_id)
        if refused:
            return refused
        note = str(_body().get("note") or "")[:2000]
        who = g.principal.token_id if g.principal else None
        if not service.store.resume(execution_id, who, note, service.clock(), service.config.ttl_s):
            return _error(409, f"execution {execution_id} changed state meanwhile; reload it")
        service.queue.wake()
        return jsonify({"execution_id": execution_id, "status": "queued", "resumed_by": who, "note": note}), 202

    @app.post("/executions/<execution_id>/reject")
    def reject_execution(execution_id: str):
        data, refused = _awaiting(execution_id)
        if refused:
            return refused
        why = str(_body().get("reason") or "")[:2000]
        who = g.principal.token_id if g.principal else None
        if not service.store.reject(execution_id, who, why, service.clock()):
            return _error(409, f"execution {execution_id} changed state meanwhile; reload it")
        from openhands_driver import handoff

        handoff.reject(data["paused_run"], who or "anonymous", Path(service.config.db).parent / "state")
        service.write_report(execution_id)
        return jsonify({"execution_id": execution_id, "status": "rejected", "rejected_by": who})

    ops.register(app, service, _error)  # /ops/*: status, health, metrics, config, ... (ops.py)
    return app
