"""The ServiceNow execution API (the "self-healing agent" seed's endpoints), a blueprint of the intake.

    POST /api/v1/incident/trigger-agent          (operator) a ServiceNow incident -> 202
         {incident_number, short_description, description, priority "1 - Critical", category,
          assignment_group, state, target {ip_address, hostname, service}}
         -> {message, execution_id, incident_number, status}
    GET  /api/v1/incident/execution/<id>         (viewer) status, timeline, hypotheses, verifications,
                                                 provenance
    GET  /api/v1/incident/execution/<id>/logs    (viewer) the command log: one entry per step
    GET  /api/v1/incident/executions/active      (viewer) queued, running and awaiting_operator ones

``target.service`` names a service registry entry (any backend the registry knows: the run attaches
to it); with ``--demo-targets`` a name that is not registered but is a scenario of the catalog gets
a fresh demo target with that fault (as a generic alert's ``scenario`` does). The incident then runs
through the same queue as every webhook (dedupe on the incident number, priority, budgets,
escalation, audit trail). Timeline and logs are the run's real actions (store ``actions``);
hypotheses, evidence, verifications and provenance are the records findings.py derived from the run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Blueprint, jsonify, request

from openhands_driver.intake.escalation import iso
from openhands_driver.intake.payloads import PayloadError, decode, parse_servicenow
from openhands_driver.intake.store import redact_payload
from openhands_driver.trace import redact

if TYPE_CHECKING:
    from openhands_driver.intake.service import IntakeService

SOURCE = "servicenow"
LISTED = ("queued", "running", "awaiting_operator")


def step_status(result: str) -> str:
    """completed | failed | rejected, from an action's result (phases.action_result)."""
    if result.startswith("rejected"):
        return "rejected"
    if result.startswith("failed"):
        return "failed"
    return "completed"


def _title(action: dict) -> str:
    """The runbook brain's label of the step (its summary), else the command; the final report's
    first line for the finish step (its summary repeats the whole message)."""
    summary = "" if action["tool"] == "finish" else (action.get("summary") or "").strip()
    text = summary or action["command"].strip() or action["tool"]
    return ("finish: " if action["tool"] == "finish" else "") + text.splitlines()[0][:200]


def _error(code: int, message: str):
    return jsonify({"error": message}), code


def _number(data: dict) -> str | None:
    return ((data.get("incident") or {}).get("labels") or {}).get("incident_number")


def timeline(actions: list[dict]) -> list[dict]:
    return [{"step_number": a["seq"] + 1, "action_type": a["phase"], "title": _title(a),
             "status": step_status(a["result"]), "duration_seconds": a["duration_s"], "tool": a["tool"],
             "risk": a["risk"], "exit_code": a["exit_code"]} for a in actions]


def logs(actions: list[dict], secrets: list[str]) -> list[dict]:
    return [redact_payload({"step": a["seq"] + 1, "action_type": a["phase"], "command_executed": a["command"],
                            "command_output": a["output_excerpt"], "status": step_status(a["result"]),
                            "exit_code": a["exit_code"], "duration_seconds": a["duration_s"],
                            "tool": a["tool"], "result": a["result"]}, secrets) for a in actions]


def hypotheses(found: dict) -> list[dict]:
    return [{"hypothesis_text": h["hypothesis_text"], "confidence_score": h["confidence_score"],
             "status": h["status"], "status_reason": h["status_reason"], "source": h["source"],
             "fault_class": h["fault_class"], "entity": h["entity"], "step_number": h["step"],
             "evidence": [{"source": e["source"], "step_number": e["step"], "detail": e["detail"],
                           "supports": e["supports"]} for e in h["evidence"]]}
            for h in found["hypotheses"]]


def execution_view(data: dict, found: dict, secrets: list[str]) -> dict:
    run = data.get("result") or {}
    return redact({
        "execution_id": data["id"], "incident_number": _number(data), "status": data["status"],
        "reason": data["reason"], "priority": data["priority"], "service": data["service"],
        "short_description": data["title"], "source": data["source"], "target": data["plan"],
        "created_at": iso(data["created_at"]), "started_at": iso(data["started_at"]),
        "finished_at": iso(data["finished_at"]), "service_up": data["service_up"],
        "resolved": run.get("resolved"), "run_id": data["run_id"],
        "timeline": timeline(data["actions"]), "hypotheses": hypotheses(found),
        "verifications": [{k: v for k, v in item.items() if k != "created_at"} for item in found["verifications"]],
        "provenance": [{k: v for k, v in item.items() if k != "created_at"} for item in found["provenance"]],
        "status_history": [{"at": iso(e["at"]), "kind": e["kind"], "name": e["name"], "detail": e["detail"]}
                           for e in data["timeline"]],
    }, secrets)


def blueprint(service: IntakeService) -> Blueprint:
    api = Blueprint("servicenow", __name__, url_prefix="/api/v1/incident")
    secrets = [s for s in (service.config.token, service.config.routing_key) if s]

    @api.post("/trigger-agent")
    def trigger_agent():
        if not service.accepting:
            return _error(503, "the intake is shutting down and accepts no new incidents")
        raw = request.get_data(cache=False)
        if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
            reason = f"Content-Type {request.mimetype or '(none)'} is not JSON; send 'Content-Type: application/json'"
            service.reject(SOURCE, raw, reason)
            return _error(415, reason)
        body = None
        try:
            body = decode(raw)
            record = dict(body)
            target = record.get("target")
            name = target.get("service") if isinstance(target, dict) else None
            if (service.config.demo_targets and not record.get("scenario") and isinstance(name, str)
                    and name not in service.registry and name in service.catalog.ids()):
                record["scenario"] = name  # demo mode: the service names the scenario to reproduce
            items = [(incident, {} if incident.resolved else service.plan_for(incident))
                     for incident in parse_servicenow(record)]
        except PayloadError as exc:
            service.reject(SOURCE, body if body is not None else raw, str(exc))
            return _error(400, f"bad ServiceNow incident: {exc}")
        [result] = service.accept(SOURCE, body, items)
        incident, plan = items[0]
        number = incident.labels["incident_number"]
        queued = (f"agent triggered for {number}: {plan.get('reason')}" if plan.get("kind") in ("demo", "attach")
                  else f"{number} recorded but no agent runs: {plan.get('reason')}; it is escalated")
        messages = {"queued": queued,
                    "deduplicated": f"{number} is already being worked on by execution {result['execution_id']}",
                    "cancelled": f"{number} was resolved in ServiceNow before its run started",
                    "running": f"{number} reported resolved while its run is in progress",
                    "no_match": f"{number} reported resolved; no execution was active for it"}
        return jsonify({"message": messages.get(result["status"], result["status"]),
                        "execution_id": result["execution_id"], "incident_number": number,
                        "status": result["status"]}), 202

    @api.get("/execution/<execution_id>")
    def get_execution(execution_id: str):
        data = service.store.execution(execution_id)
        if data is None:
            return _error(404, f"no execution {execution_id!r}; GET /api/v1/incident/executions/active lists them")
        return jsonify(execution_view(data, service.store.findings(execution_id), secrets))

    @api.get("/execution/<execution_id>/logs")
    def get_logs(execution_id: str):
        data = service.store.execution(execution_id)
        if data is None:
            return _error(404, f"no execution {execution_id!r}; GET /api/v1/incident/executions/active lists them")
        return jsonify({"execution_id": execution_id, "incident_number": _number(data), "status": data["status"],
                        "logs": logs(data["actions"], secrets)})

    @api.get("/executions/active")
    def active():
        rows = service.store.query(
            "SELECT id, status, priority, service, title, source, incident, created_at, started_at FROM executions "
            f"WHERE status IN ({','.join('?' * len(LISTED))}) ORDER BY seq", LISTED)
        out = [{"execution_id": row["id"], "incident_number": _number({"incident": json.loads(row["incident"])}),
                "status": row["status"], "priority": row["priority"], "service": row["service"],
                "short_description": row["title"], "source": row["source"], "created_at": iso(row["created_at"]),
                "started_at": iso(row["started_at"])} for row in rows]
        return jsonify({"count": len(out), "executions": out})

    return api
