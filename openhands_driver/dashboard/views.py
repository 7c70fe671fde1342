"""An intake execution or a trace row -> the record one execution page shows.

Both shapes become the same dict (see :func:`from_trace_row` and :func:`from_intake`): identity and
status, the alert as received, the phase timeline with durations, hypotheses and their evidence,
every command (risk, gate decision, exit code, output excerpt), pending confirmations, verifier
probes, the runner's proof (diagnosis, oracle, durability, collateral), escalations and the report.
Times are epoch seconds (None when unknown). Nothing here reads a secret: trace rows and the intake
audit are redacted when written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from openhands_driver.dashboard.links import trace_url
from openhands_driver.intake.phases import PHASES, classify_actions

ACTIVE = ("queued", "running", "started")


def epoch(value: Any) -> float | None:
    """An ISO 8601 string or epoch number -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _actions(trace_actions: list[dict]) -> list[dict]:
    """Trace actions with their phase (intake.phases) and the gate fields kept."""
    rows = classify_actions(trace_actions)
    out = []
    for seq, (row, raw) in enumerate(zip(rows, trace_actions), 1):
        out.append({**row, "seq": seq, "policy_risk": raw.get("policy_risk"), "model_risk": raw.get("model_risk"),
                    "gate": raw.get("gate") or "allowed", "gate_reason": raw.get("gate_reason") or "",
                    "output_excerpt": str(raw.get("output_excerpt") or "")[-1200:]})
    return out


def phase_rows(actions: list[dict], *, marks: dict[str, float] | None = None,
               details: dict[str, str] | None = None, queued_s: float | None = None) -> list[dict]:
    """One row per phase: its actions, their summed duration, the first time seen, a detail line."""
    marks, details = marks or {}, details or {}
    rows = []
    for name in PHASES:
        mine = [a for a in actions if a["phase"] == name]
        duration = sum(a.get("duration_s") or 0.0 for a in mine)
        if name == "analyze" and queued_s is not None:
            duration = queued_s
        rows.append({"name": name, "at": marks.get(name), "actions": len(mine),
                     "duration_s": round(duration, 3) if (mine or name == "analyze" and queued_s is not None)
                     else None, "detail": details.get(name, ""),
                     "reached": bool(mine) or name in marks or name in details})
    return rows


def current_phase(status: str, phases: list[dict]) -> str:
    reached = [p["name"] for p in phases if p["reached"]]
    if status == "queued":
        return "queued"
    return reached[-1] if reached else ("analyze" if status in ACTIVE else "-")


def hypotheses(routing: dict | None, actions: list[dict], diagnosis: dict | None,
               skills_used: list | None) -> list[dict]:
    """What the agent considered and the evidence for each: the router's candidates (scores and
    reason), each skill the agent loaded or ran with the output of its diagnosis, and the final
    reported diagnosis."""
    routing = routing or {}
    out: list[dict] = []
    chosen = routing.get("skill_id")
    scores = routing.get("scores") or {}
    names = list(dict.fromkeys([*([chosen] if chosen else []), *sorted(scores, key=lambda s: -float(scores[s] or 0)),
                                *(s if isinstance(s, str) else (s or {}).get("name") for s in skills_used or [])]))
    for name in [n for n in names if n]:
        pattern = re.compile(re.escape(name))
        evidence = [{"command": a["command"], "excerpt": a["output_excerpt"][-500:], "exit_code": a["exit_code"]}
                    for a in actions if a["phase"] in ("hypothesize", "diagnose") and pattern.search(a["command"])]
        out.append({"hypothesis": f"skill {name}", "source": "router" if name == chosen or name in scores
                    else "agent", "score": scores.get(name),
                    "why": routing.get("reason") if name == chosen else "", "evidence": evidence})
    if not out and routing:
        out.append({"hypothesis": "no skill matched", "source": "router", "score": None,
                    "why": routing.get("reason", ""), "evidence": []})
    reported = (diagnosis or {}).get("reported")
    if reported:
        out.append({"hypothesis": f"diagnosis: {reported.get('fault_class')} at {reported.get('entity')}",
                    "source": "agent's final report", "score": None,
                    "why": "correct" if diagnosis.get("correct") else ("wrong" if "correct" in diagnosis else ""),
                    "evidence": [{"command": "", "excerpt": str(e), "exit_code": None}
                                 for e in (reported.get("evidence") if isinstance(reported.get("evidence"), list)
                                           else [reported.get("evidence")] if reported.get("evidence") else [])]})
    return out


def _proof(row: dict) -> dict:
    return {"resolved": row.get("resolved"), "diagnosis": row.get("diagnosis"), "mitigation": row.get("mitigation"),
            "durability": row.get("durability"), "collateral": row.get("collateral"),
            "mttd_s": row.get("mttd_s"), "mttr_s": row.get("mttr_s")}


def _elapsed(start: float | None, end: float | None, now: float) -> float | None:
    if start is None:
        return None
    return round((end if end is not None else now) - start, 1)


def from_trace_row(row: dict, *, template: str | None = None, now: float) -> dict:
    """One run of a trace log (final or ``started``) as an execution record."""
    actions = _actions(list(row.get("actions") or []))
    status = str(row.get("status") or "-")
    started, finished = epoch(row.get("started_at")), epoch(row.get("finished_at"))
    if status == "started":
        finished = None
    verification = row.get("verification") or {}
    phases = phase_rows(actions, details={"finalize": row.get("agent_message") or ""} if finished else {})
    run_id = str(row.get("run_id"))
    truth = row.get("ground_truth") or {}
    return {
        "kind": "trace", "id": run_id, "run_id": run_id, "title": row.get("scenario") or run_id,
        "status": status, "service": (row.get("target") or {}).get("service") or row.get("scenario") or "-",
        "priority": "-", "source": "trace", "reason": row.get("error") or "",
        "created_at": started, "started_at": started, "finished_at": finished,
        "elapsed_s": (row.get("duration_s") if finished is not None and row.get("duration_s") is not None
                      else _elapsed(started, finished, now)), "phase": current_phase(status, phases),
        "alert": row.get("alert") or {"scenario": row.get("scenario"), "blind": row.get("blind")},
        "incident_text": (row.get("alert") or {}).get("text") if isinstance(row.get("alert"), dict) else row.get("alert"),
        "phases": phases, "hypotheses": hypotheses(row.get("routing"), actions, row.get("diagnosis"),
                                                   row.get("skills_used")),
        "actions": actions, "approvals": [], "probes": verification.get("attempts") or [],
        "verification": {k: verification.get(k) for k in ("verified", "consecutive_required", "url")},
        "proof": _proof(row), "escalations": [], "report": row.get("agent_message") or "",
        "skill_id": row.get("skill_id"), "step_count": row.get("step_count"), "service_up": row.get("service_up"),
        "mode": row.get("mode"), "strategy_source": row.get("strategy_source"),
        "ground_truth": truth, "security": row.get("security") or {},
        "trace_url": trace_url(template, run_id=run_id, incident_id=row.get("scenario"),
                               trace_id=row.get("laminar_trace_id")),
    }


def from_intake(data: dict, *, trace_row: dict | None, approvals: list[dict], report: str,
                template: str | None = None, now: float, live_actions: list[dict] | None = None) -> dict:
    """One intake execution (``Store.execution``) with its run's trace row, when found; while it
    runs, ``live_actions`` are its actions so far (the run's open-run sidecar)."""
    run = data.get("result") or {}
    if trace_row is not None:  # the trace row has the gate fields and longer excerpts
        actions = _actions(list(trace_row.get("actions") or []))
    elif live_actions and not data.get("actions"):
        actions = _actions(list(live_actions))
        waiting = {a["command"] for a in approvals if a["state"] == "pending"}
        for action in actions:  # recorded before its gate decided: say so
            if action["exit_code"] is None and action["command"] in waiting:
                action["gate"], action["result"] = "awaiting approval", "not run yet"
    else:
        actions = [{**a, "policy_risk": None, "model_risk": None, "gate": "-", "gate_reason": ""}
                   for a in data.get("actions") or []]
    marks, details = {}, {}
    for event in data.get("timeline") or []:
        if event["kind"] == "phase":
            marks.setdefault(event["name"], event["at"])
            details[event["name"]] = event["detail"]
    queued = (data["started_at"] - data["created_at"]) if data.get("started_at") else None
    phases = phase_rows(actions, marks=marks, details=details, queued_s=queued)
    status = data["status"]
    if any(a["state"] == "pending" for a in approvals):
        phase = "awaiting approval"
    else:
        phase = current_phase(status, phases)
    row = trace_row or {}
    verification = data.get("verification") or row.get("verification") or {}
    run_id = data.get("run_id") or run.get("run_id")
    return {
        "kind": "intake", "id": data["id"], "run_id": run_id, "title": data["title"], "status": status,
        "service": data["service"], "priority": data["priority"], "source": data["source"],
        "reason": data["reason"], "created_at": data["created_at"], "started_at": data.get("started_at"),
        "finished_at": data.get("finished_at"),
        "elapsed_s": _elapsed(data.get("started_at") or data["created_at"], data.get("finished_at"), now),
        "phase": phase, "alert": data.get("incident") or {}, "incident_text": (data.get("incident") or {}).get("text"),
        "phases": phases, "hypotheses": hypotheses(run.get("routing") or row.get("routing"), actions,
                                                   row.get("diagnosis"), row.get("skills_used")),
        "actions": actions, "approvals": approvals, "probes": verification.get("attempts") or [],
        "verification": {k: verification.get(k) for k in ("verified", "consecutive_required", "url")},
        "proof": _proof(row), "escalations": data.get("escalations") or [], "report": report,
        "skill_id": run.get("skill_id"), "step_count": run.get("step_count"), "service_up": data.get("service_up"),
        "mode": row.get("mode"), "strategy_source": row.get("strategy_source"),
        "ground_truth": row.get("ground_truth") or {}, "security": row.get("security") or {},
        "timeline": data.get("timeline") or [],
        "trace_url": trace_url(template, run_id=run_id, incident_id=data["id"],
                               trace_id=row.get("laminar_trace_id")),
    }


def scrub(view: dict, secrets: list[str]) -> dict:
    """The view without secret values: the alert as received through the intake's payload redaction
    (secret-looking keys, bearer strings), then every known secret value anywhere (token, keys)."""
    from openhands_driver.intake.store import redact_payload
    from openhands_driver.trace import redact

    view = {**view, "alert": redact_payload(view.get("alert")),
            "incident_text": redact_payload(view.get("incident_text"))}
    return redact(view, [s for s in secrets if s])


def live_row(item: dict) -> dict:
    """The columns of the live list (also its JSON for the page's polling)."""
    return {k: item.get(k) for k in ("id", "title", "status", "service", "priority", "phase", "elapsed_s",
                                     "started_at", "created_at", "finished_at", "run_id", "skill_id",
                                     "step_count", "service_up")} | {"pending": item.get("pending", 0)}
