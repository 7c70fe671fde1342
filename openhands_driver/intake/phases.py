"""The phases of an execution, derived from its run: analyze -> hypothesize -> diagnose ->
remediate -> verify -> finalize.

analyze is the intake's own reading of the alert and the target choice; hypothesize is the skill
router's decision (and any skill the agent loaded); diagnose / remediate / verify come from the
agent's actions (the runbook brain labels them in the action summary; other actions are classified
by their command: changes are remediation, health probes after a change are verification);
verify also carries the independent verifier's verdict; finalize is the outcome.
"""

from __future__ import annotations

import re
from typing import Any

PHASES = ("analyze", "hypothesize", "diagnose", "remediate", "verify", "finalize")
_CHANGES = re.compile(r"(^|[\s;&|(])(rm|mv|cp|touch|sed\s+-i|chmod|chown|kill|pkill|tee|mkdir|ln|truncate)\s"
                      r"|targetctl\s+restart|remediate|(^|[^0-9&2])>>?\s*(?!/dev/null)[\w./]")
_PROBES = re.compile(r"targetctl\s+status|\bcurl\b|\bwget\b")
_EDITS = ("create", "str_replace", "insert", "undo_edit")


def action_phase(tool: str, command: str, summary: str, changed_before: bool) -> str:
    label = (summary or "").strip().lower()
    if tool == "finish":
        return "finalize"
    if tool == "invoke_skill" or label.startswith("load the"):
        return "hypothesize"
    for phase in ("diagnose", "remediate", "verify"):
        if label.startswith(phase):
            return phase
    if label.startswith("restart"):
        return "remediate"
    if tool == "file_editor":
        return "remediate" if any(word in command for word in _EDITS) else "diagnose"
    if _CHANGES.search(command):
        return "remediate"
    if _PROBES.search(command):
        return "verify" if changed_before else "diagnose"
    return "diagnose"


def action_result(tool: str, exit_code: int | None, gate: str | None = None, why: str = "") -> str:
    if gate == "rejected":
        return f"rejected by policy before it ran{': ' + why if why else ''}"
    if tool == "finish":
        return "finished"
    if exit_code is None:
        return "no exit code"
    return "ok" if exit_code == 0 else f"failed (exit {exit_code})"


def _get(item: Any, name: str, default: Any = None) -> Any:
    return item.get(name, default) if isinstance(item, dict) else getattr(item, name, default)


def classify_actions(actions: list[Any]) -> list[dict]:
    """Each action as a row: phase, tool, command, risk, exit_code, duration_s, summary, result."""
    rows, changed = [], False
    for action in actions:
        tool, command = str(_get(action, "tool", "")), str(_get(action, "command", ""))
        summary = str(_get(action, "summary", "") or "")
        phase = action_phase(tool, command, summary, changed)
        changed = changed or phase == "remediate"
        exit_code = _get(action, "exit_code")
        rows.append({"phase": phase, "tool": tool, "command": command,
                     "risk": str(_get(action, "risk", "UNKNOWN") or "UNKNOWN").upper(),
                     "exit_code": exit_code, "duration_s": _get(action, "duration_s"),
                     "summary": summary[:500],
                     "result": action_result(tool, exit_code, _get(action, "gate"),
                                             str(_get(action, "gate_reason", "") or "")[:200]),
                     "output_excerpt": str(_get(action, "output_excerpt", "") or "")[-600:]})
    return rows


def _actions_detail(rows: list[dict]) -> str:
    if not rows:
        return "no actions"
    failed = [r for r in rows if r["result"].startswith("failed")]
    listed = "; ".join(r["command"][:120] for r in rows[:6]) + (" ..." if len(rows) > 6 else "")
    return f"{len(rows)} action(s){f', {len(failed)} failed' if failed else ''}: {listed}"


def verifier_detail(verification: dict | None) -> str:
    if not verification:
        return "verifier: no verdict"
    attempts = verification.get("attempts") or []
    healthy = sum(1 for a in attempts if a.get("ok"))
    last = attempts[-1]["reason"] if attempts else "no probe"
    return (f"verifier: {'verified' if verification.get('verified') else 'NOT verified'}, "
            f"{healthy}/{len(attempts)} probes healthy (need {verification.get('consecutive_required')} "
            f"in a row; last: {last})")


def derive(actions: list[dict], *, routing: dict | None, skill_id: str | None,
           verification: dict | None, outcome: str) -> list[dict]:
    """The phase records of a finished run, hypothesize .. finalize (rows from classify_actions).

    analyze is recorded by the queue when the run starts (the alert and the target choice).
    """
    by_phase = {phase: [r for r in actions if r["phase"] == phase] for phase in PHASES}
    routing = routing or {}
    hypothesis = (f"skill {skill_id or 'none'} ({routing.get('method', '-')}): "
                  f"{routing.get('reason', 'no routing decision')}")
    if by_phase["hypothesize"]:
        hypothesis += "; " + _actions_detail(by_phase["hypothesize"])
    verify = _actions_detail(by_phase["verify"]) + "; " + verifier_detail(verification)
    return [{"phase": "hypothesize", "detail": hypothesis},
            {"phase": "diagnose", "detail": _actions_detail(by_phase["diagnose"])},
            {"phase": "remediate", "detail": _actions_detail(by_phase["remediate"])},
            {"phase": "verify", "detail": verify},
            {"phase": "finalize", "detail": outcome}]
