"""An execution's findings, derived from what its run really did: hypotheses, evidence,
verifications and provenance (stored as records of their own: store_findings.py, migration 0002).

Nothing here is invented: every record points at its source.

- **Hypotheses**, in the order they arose: the skill router's choice (``router``), each runbook the
  agent loaded (``runbook``, the step of its ``invoke_skill``), the agent's structured diagnosis
  (``diagnosis``: fault class + entity). Status: ``validated`` when every decided piece of evidence
  supports it and the proof was among it, ``refuted`` when decided evidence contradicts it (the
  ground-truth comparison, the oracle, or the agent leaving a runbook for another one after its
  diagnosis), else ``inconclusive``.
- **Evidence** links a hypothesis to an observation: an action (its step and output), the
  diagnosis' own evidence lines (claims: ``supports`` null), the ground-truth comparison, the
  fault class's oracle, the verifier, durability. ``confidence_score`` is the share of decided
  evidence (``supports`` not null) that supports the hypothesis; null when none was decided.
- **Verifications**: each check of the runner's proof (verifier, each oracle check, durability,
  collateral, resolved), with the data it recorded.
- **Provenance**: the alert (source, dedupe key, incident number), the target plan, the run (run
  id, trace log), the brain/model, each skill used, the target, the agent's tools.

Steps are 1-based: step N is the N-th action of the run (the execution's timeline and logs).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Findings:
    hypotheses: list[dict] = field(default_factory=list)   # with an "evidence" list each
    verifications: list[dict] = field(default_factory=list)
    provenance: list[dict] = field(default_factory=list)


def _key(name: str | None) -> str:
    return re.sub(r"[\s_-]+", "_", (name or "").strip().lower())


def _skill_name(action: dict) -> str:
    try:
        data = json.loads(action["command"])
    except (TypeError, ValueError):
        return action["command"].strip()
    return str(data.get("name") or "") if isinstance(data, dict) else ""


def _clip(text: Any, limit: int = 600) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + " [...]"


def _status(evidence: list[dict], proof_sources: tuple[str, ...]) -> tuple[str, str, float | None]:
    decided = [e for e in evidence if e["supports"] is not None]
    confidence = round(sum(1 for e in decided if e["supports"]) / len(decided), 3) if decided else None
    against = [e for e in decided if not e["supports"]]
    if against:
        return "refuted", f"contradicted by {against[0]['source']}: {against[0]['detail']}", confidence
    if any(e["source"] in proof_sources for e in decided):
        return "validated", "every decided piece of evidence supports it, the runner's proof included", confidence
    return "inconclusive", "no proof decided it", confidence


def _proof_evidence(run: dict, correct: bool | None) -> list[dict]:
    """The runner's own judgements that bear on the final cause (only those it actually made)."""
    out = []
    if correct is not None:
        out.append({"source": "ground_truth", "step": None, "supports": bool(correct),
                    "detail": "the diagnosis names the injected fault" if correct
                    else "the diagnosis does not name the injected fault"})
    mitigation = run.get("mitigation") or {}
    if mitigation.get("passed") is not None:
        out.append({"source": "oracle", "step": None, "supports": bool(mitigation["passed"]),
                    "detail": "; ".join(f"{c.get('check')}: {c.get('detail')}" for c in mitigation.get("checks") or [])
                    or ("the cause is gone" if mitigation["passed"] else "the cause is still there")})
    verification = run.get("verification") or {}
    if verification.get("verified") is not None:
        probes = verification.get("attempts") or []
        out.append({"source": "verifier", "step": None, "supports": bool(verification["verified"]),
                    "detail": f"{'verified' if verification['verified'] else 'not verified'}: "
                              f"{sum(1 for p in probes if p.get('ok'))}/{len(probes)} probes healthy at "
                              f"{verification.get('url')}"})
    durability = run.get("durability") or {}
    if durability.get("passed") is not None:
        out.append({"source": "durability", "step": None, "supports": bool(durability["passed"]),
                    "detail": f"restart {'and' if durability.get('restarted') else 'without'} soak "
                              f"{durability.get('soak_s')} s: {'healthy' if durability['passed'] else 'unhealthy'}"})
    return out


def _hypotheses(run: dict, actions: list[dict]) -> list[dict]:
    proofs = ("oracle", "verifier", "ground_truth")
    diagnosis = run.get("diagnosis") or {}
    reported = diagnosis.get("reported") or {}
    final_class = _key(reported.get("fault_class"))
    proof = _proof_evidence(run, diagnosis.get("correct") if reported else None)
    out: list[dict] = []

    routing = run.get("routing") or {}
    if routing.get("skill_id"):
        skill = routing["skill_id"]
        evidence = [{"source": "router", "step": None, "supports": None,
                     "detail": f"{routing.get('method', '-')}: {routing.get('reason', '')}"}]
        if final_class:
            agrees = _key(skill) == final_class
            evidence.append({"source": "diagnosis", "step": None, "supports": agrees,
                             "detail": f"the agent diagnosed {reported.get('fault_class')}"})
            if agrees:
                evidence += proof
        out.append({"source": "router", "hypothesis_text": f"the alert matches runbook {skill} "
                    f"({routing.get('method', '-')}: {_clip(routing.get('reason'), 300)})",
                    "fault_class": skill, "entity": None, "step": None, "evidence": evidence})

    loaded = [(index + 1, _skill_name(a)) for index, a in enumerate(actions) if a["tool"] == "invoke_skill"]
    for position, (step, skill) in enumerate(loaded):
        evidence = [{"source": "action", "step": step, "supports": None,
                     "detail": f"the agent loaded runbook {skill}"}]
        later = next(((s, name) for s, name in loaded[position + 1:] if name != skill), None)
        diagnose = [(index + 1, a) for index, a in enumerate(actions)
                    if index + 1 > step and (later is None or index + 1 < later[0]) and a["phase"] == "diagnose"]
        for diag_step, action in diagnose[:3]:
            evidence.append({"source": "action", "step": diag_step, "supports": None,
                             "detail": f"{_clip(action['command'], 200)} -> {action['result']}: "
                                       f"{_clip(action.get('output_excerpt'), 300)}"})
        if later is not None and _key(skill) != final_class:
            evidence.append({"source": "agent", "step": later[0], "supports": False,
                             "detail": f"after its diagnosis the agent moved on to runbook {later[1]}"})
        elif final_class:
            agrees = _key(skill) == final_class
            evidence.append({"source": "diagnosis", "step": None, "supports": agrees,
                             "detail": f"the agent diagnosed {reported.get('fault_class')}"})
            if agrees:
                evidence += proof
        out.append({"source": "runbook", "hypothesis_text": f"the fault is the one runbook {skill} handles",
                    "fault_class": skill, "entity": None, "step": step, "evidence": evidence})

    if reported:
        finish = next((index + 1 for index, a in enumerate(actions) if a["tool"] == "finish"), None)
        evidence = [{"source": "agent", "step": finish, "supports": None, "detail": _clip(line, 400)}
                    for line in reported.get("evidence") or []] + proof
        out.append({"source": "diagnosis", "hypothesis_text": f"{reported.get('fault_class')}: "
                    f"{reported.get('entity') or '(no entity named)'}",
                    "fault_class": reported.get("fault_class"), "entity": reported.get("entity") or None,
                    "step": finish, "evidence": evidence})
    for hypothesis in out:
        hypothesis["status"], hypothesis["status_reason"], hypothesis["confidence_score"] = _status(
            hypothesis["evidence"], proofs)
    return out


def _verifications(run: dict) -> list[dict]:
    out = []
    verification = run.get("verification")
    if verification:
        for probe in verification.get("attempts") or []:
            out.append({"kind": "verifier", "name": f"probe {probe.get('attempt')}", "passed": probe.get("ok"),
                        "detail": f"HTTP {probe.get('status_code')} {probe.get('reason', '')}".strip(),
                        "data": probe})
        out.append({"kind": "verifier", "name": "service_up", "passed": verification.get("verified"),
                    "detail": f"{verification.get('consecutive_required')} consecutive healthy probes required "
                              f"at {verification.get('url')}", "data": {k: v for k, v in verification.items()
                                                                        if k != "attempts"}})
    for check in (run.get("mitigation") or {}).get("checks") or []:
        out.append({"kind": "oracle", "name": str(check.get("check")), "passed": check.get("passed"),
                    "detail": str(check.get("detail") or ""), "data": check})
    durability = run.get("durability")
    if durability:
        out.append({"kind": "durability", "name": "restart and soak", "passed": durability.get("passed"),
                    "detail": f"restarted {durability.get('restarted')}, soak {durability.get('soak_s')} s, "
                              f"{len(durability.get('probes') or [])} probes",
                    "data": {k: v for k, v in durability.items() if k != "probes"}})
    collateral = run.get("collateral")
    if collateral:
        out.append({"kind": "collateral", "name": "only the fix changed", "passed": collateral.get("passed"),
                    "detail": f"changed {[c.get('path') for c in collateral.get('changed') or []]}, decoys "
                              f"changed {collateral.get('decoys_changed') or []}, outside the fix "
                              f"{collateral.get('outside_fix') or []}",
                    "data": {k: v for k, v in collateral.items() if k != "diffs"}})
    if run.get("resolved") is not None:
        out.append({"kind": "resolved", "name": "resolved", "passed": run["resolved"],
                    "detail": "verifier, oracle, durability and collateral all passed" if run["resolved"]
                    else "not every proof check passed", "data": {"resolved": run["resolved"]}})
    return out


def _provenance(run: dict, incident: dict, plan: dict) -> list[dict]:
    labels = incident.get("labels") or {}
    out = [{"subject": "alert", "source": incident.get("source", "?"),
            "ref": labels.get("incident_number") or incident.get("dedupe_key"),
            "detail": f"{incident.get('priority')} {incident.get('title')}"},
           {"subject": "target_plan", "source": plan.get("kind", "?"),
            "ref": (plan.get("service") or {}).get("name") or plan.get("scenario"), "detail": plan.get("reason", "")}]
    if run.get("run_id"):
        out.append({"subject": "run", "source": "run_incident", "ref": run["run_id"],
                    "detail": f"trace {run.get('trace_log') or '-'}; status {run.get('status')}"})
    if run.get("brain") or run.get("model"):
        out.append({"subject": "brain", "source": str(run.get("brain") or "model"), "ref": run.get("model"),
                    "detail": f"toolset {run.get('toolset') or 'shell'}; tools {', '.join(run.get('agent_tools') or [])}"})
    for skill in run.get("skills_used") or []:
        out.append({"subject": "skill", "source": "invoke_skill", "ref": skill, "detail": f".agents/skills/{skill}"})
    target = run.get("target") or {}
    if target:
        out.append({"subject": "target", "source": str(target.get("backend", "?")),
                    "ref": target.get("url"), "detail": ", ".join(
                        f"{k}={target[k]}" for k in ("container", "root", "host", "owned") if k in target)})
    return out


def derive(run: dict, actions: list[dict], incident: dict, plan: dict) -> Findings:
    """The findings of one run (``run``: the queue's run record; ``actions``: classified rows)."""
    return Findings(_hypotheses(run, actions), _verifications(run), _provenance(run, incident, plan))
