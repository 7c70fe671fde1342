"""The runner's verdict on a finished conversation: status, the proof (diagnosis, mitigation,
collateral, durability) -> ``resolved``, and when the verifier's passing streak began (MTTR)."""

from __future__ import annotations

from openhands_driver import proof
from openhands_driver.config import RunConfig
from openhands_driver.incident_plan import IncidentPlan
from openhands_driver.records import RunResult


def run_status(conversation_status: str, verified: bool) -> str:
    if verified:
        return "fixed"
    if conversation_status in ("stuck", "timeout", "interrupted"):
        return conversation_status
    return "not_fixed"


def prove(config: RunConfig, plan: IncidentPlan, target, result: RunResult,
           before: dict | None, after: dict | None, restart: bool | None = None) -> None:
    """Diagnosis, mitigation, durability and collateral, judged by the runner; then ``resolved``."""
    incident = plan.incident
    if result.ground_truth is not None:
        result.diagnosis = proof.score_diagnosis(result.agent_message, incident.ground_truth)
        result.mitigation = (proof.check_mitigation_all(target, incident.injections)
                             if len(incident.injections) > 1
                             else proof.check_mitigation(target, incident.fault, incident.params))
    if before is not None and after is not None:
        result.collateral = proof.compare_snapshots(
            before, after, may_change=incident.ground_truth.may_change,
            decoys=incident.ground_truth.decoys)
    if result.service_up:
        result.durability = proof.check_durability(target, incident.instance, soak_s=config.soak_s,
                                                   interval_s=min(0.5, config.verify_interval_s),
                                                   restart=restart if restart is not None
                                                   else getattr(target, "owned", True))
    else:
        result.durability = {"passed": False, "restarted": False,
                             "note": "not checked: the verifier did not pass"}
    result.resolved = bool(result.service_up and result.durability.get("passed")
                           and (result.mitigation or {"passed": True})["passed"]
                           and (result.collateral or {"passed": True})["passed"])


def snapshot_after(target, result: RunResult) -> dict | None:
    """The after-snapshot; when the target cannot give one, collateral fails closed with the reason
    (the run is still judged, not lost to an exception)."""
    try:
        return proof.take_snapshot(target)
    except RuntimeError as exc:
        result.collateral = {"passed": False, "changed": [], "outside_fix": [], "decoys_changed": [],
                             "error": f"no snapshot after the run: {exc}"}
        return None


def streak_start_s(check) -> float:
    """Seconds into the verification at which its final passing streak began."""
    attempts = check.attempts
    first = len(attempts)
    while first > 0 and attempts[first - 1].ok:
        first -= 1
    return sum(check.interval_s for _ in range(first))
