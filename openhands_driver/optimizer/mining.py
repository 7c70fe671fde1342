"""Trace mining: which checks found the fault, which were wasted, what failed.

For one trace row, :func:`attribute` takes the read-only checks the agent ran before its first change
and replays their recorded outputs through the same evidence reader the runbook brain uses
(:class:`openhands_driver.brain.findings.Findings`). The smallest subset of those checks whose evidence
still supports the same fix is what *found* the fault; the rest were *wasted*. An :class:`Evidence`
store collects attributions from mined trace logs and from fresh evaluations; the proposer learns from
it and the feedback text (what GEPA's reflection sees) is written from it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from openhands_driver.brain.findings import Findings

# Read-only checks: health, logs, info and looking at files through targetctl, or a skill's diagnose.
_READ_ONLY = re.compile(
    r"^(targetctl\s+(status|logs|info)\b|targetctl\s+exec\s+(ls|cat|head|tail|grep|stat|ps|find|wc)\b"
    r"|python3?\s+\S*/diagnose\.py\b)")
_SKIPPED_TOOLS = {"invoke_skill", "think", "task_tracker"}


def is_check(command: str) -> bool:
    return bool(_READ_ONLY.match(command.strip())) and ">" not in command


@dataclass(frozen=True)
class Attribution:
    """What one run's diagnosis tells an optimizer."""

    run_id: str
    scenario: str
    fixed: bool
    steps: int
    checks: tuple[str, ...]   # read-only checks run before the first change, in order
    needed: tuple[str, ...]   # the smallest subset whose evidence supports the fix
    wasted: tuple[str, ...]   # checks that ran but added nothing to that fix
    fix: tuple[str, ...]      # the fix the evidence supports (empty: no evidence sufficed)
    reason: str               # the health reason the checks saw
    failure: str | None       # why the run did not end fixed, when it did not

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Attribution":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class _Check:
    command: str
    output: str
    exit_code: int | None


def _checks(actions: list[dict]) -> list[_Check]:
    found = []
    for action in actions:
        tool, command = action.get("tool"), str(action.get("command") or "")
        if tool in _SKIPPED_TOOLS:
            continue
        if tool != "terminal" or not is_check(command):
            break
        found.append(_Check(command.strip(), str(action.get("output_excerpt") or ""),
                            action.get("exit_code")))
    return found


def _replay(checks: list[_Check]) -> tuple[Findings, tuple[str, ...] | None]:
    findings = Findings()
    for check in checks:
        findings.update(check.command, check.output, check.exit_code)
    fix = findings.generic_fix()
    return findings, (tuple(fix[0]) if fix else None)


def failure_reason(row: dict) -> str | None:
    if row.get("service_up"):
        return None
    if row.get("error"):
        return str(row["error"])
    attempts = (row.get("verification") or {}).get("attempts") or []
    last_probe = attempts[-1]["reason"] if attempts else None
    parts = [f"status {row.get('status')}"]
    if last_probe:
        parts.append(f"last probe: {last_probe}")
    if row.get("agent_message"):
        parts.append(f"agent said: {str(row['agent_message'])[:160]}")
    return "; ".join(parts)


def attribute(row: dict) -> Attribution:
    checks = _checks(row.get("actions") or [])
    findings, fix = _replay(checks)
    keep = list(checks)
    if fix is not None:
        for check in reversed(checks):  # backward elimination: drop what the fix does not need
            trial = [c for c in keep if c is not check]
            if _replay(trial)[1] == fix:
                keep = trial
    needed = tuple(dict.fromkeys(c.command for c in keep)) if fix is not None else ()
    wasted = tuple(dict.fromkeys(c.command for c in checks if c.command not in needed))
    return Attribution(run_id=str(row.get("run_id")), scenario=str(row.get("scenario")),
                       fixed=bool(row.get("service_up")), steps=int(row.get("step_count") or 0),
                       checks=tuple(c.command for c in checks), needed=needed, wasted=wasted,
                       fix=fix or (), reason=findings.reason, failure=failure_reason(row))


@dataclass
class Evidence:
    """Attributions by scenario, from mined traces and fresh evaluations."""

    by_scenario: dict[str, list[Attribution]] = field(default_factory=dict)
    mined_rows: int = 0
    _run_ids: set[str] = field(default_factory=set, repr=False)

    def add(self, attribution: Attribution) -> bool:
        """Add one run's attribution (once per run id); True when it was new."""
        if attribution.run_id in self._run_ids:
            return False
        self._run_ids.add(attribution.run_id)
        self.by_scenario.setdefault(attribution.scenario, []).append(attribution)
        return True

    def needed_set(self, scenario: str) -> tuple[str, ...] | None:
        """The checks this scenario needs: the most often observed sufficient set (smallest on ties)."""
        sets = Counter(a.needed for a in self.by_scenario.get(scenario, []) if a.fix and a.needed)
        if not sets:
            return None
        return sorted(sets, key=lambda s: (-sets[s], len(s), s))[0]

    def ever_needed(self) -> set[str]:
        return {c for runs in self.by_scenario.values() for a in runs for c in a.needed}

    def ever_wasted(self) -> set[str]:
        return {c for runs in self.by_scenario.values() for a in runs for c in a.wasted}

    def summary(self) -> dict:
        return {scenario: {"runs": len(runs), "fixed": sum(a.fixed for a in runs),
                           "needed": list(self.needed_set(scenario) or ())}
                for scenario, runs in sorted(self.by_scenario.items())}


def mine(rows: list[dict]) -> Evidence:
    """Evidence from trace rows (simulated rows are plans, not runs: skipped)."""
    evidence = Evidence()
    for row in rows:
        if row.get("simulate") or row.get("status") in ("simulated", "interrupted", "crashed"):
            continue
        attribution = attribute(row)
        if attribution.checks and evidence.add(attribution):
            evidence.mined_rows += 1
    return evidence


def _quoted(commands) -> str:
    return ", ".join(f"`{c}`" for c in commands) or "none"


def feedback(attribution: Attribution, score_value: float, max_risk: str, status: str,
             violations: list[dict] | None = None) -> str:
    """The feedback text for one evaluated run (GEPA's reflective dataset carries it)."""
    head = (f"Scenario {attribution.scenario}: "
            + (f"FIXED (verified) in {attribution.steps} steps" if attribution.fixed
               else f"NOT FIXED (status {status})")
            + f"; score {score_value:.3f}; highest risk {max_risk}.")
    lines = [head, f"Checks run before the first change ({len(attribution.checks)}): "
                   f"{_quoted(attribution.checks)}."]
    if attribution.fix:
        lines.append(f"The fault was found by: {_quoted(attribution.needed)} "
                     f"(health reason: {attribution.reason or 'connection failed'}).")
        if attribution.wasted:
            lines.append(f"Wasted checks (added nothing to the fix): {_quoted(attribution.wasted)}. "
                         f"Running the finding checks first would save {len(attribution.wasted)} steps "
                         "on this incident.")
    else:
        lines.append("No check produced enough evidence for a safe fix "
                     f"(health reason: {attribution.reason or 'unknown'}): the checklist lacks the "
                     "check that explains this failure.")
    for violation in violations or []:
        lines.append(f"Blocked by the safety gate ({violation.get('risk')} above "
                     f"{violation.get('max_allowed')}): `{violation.get('command')}` — remove or replace it.")
    if attribution.failure:
        lines.append(f"Failure: {attribution.failure}.")
    return "\n".join(lines)
