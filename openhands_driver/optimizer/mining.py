"""Trace mining: what a triage runbook's checks contributed to a blind incident's outcome.

The runbook brain gathers symptoms with the triage runbook's Diagnose checks, ranks the skills of
the catalog by the ``Signals:`` phrases of their descriptions found in those outputs, and tries the
best candidates' diagnose scripts. So, for one trace row, :func:`attribute` reads:
- the *checks*: read-only ``targetctl`` commands run before the first change (skill scripts apart);
- which skills' signals each check's recorded output shows (the catalog's ``Signals:`` phrases);
- the skills tried, in order, and what their diagnose said (``fault_present``);
- the *right skill*: the one whose diagnose found the fault in a resolved run (or one whose
  diagnosis named the real cause);
- ``needed``: the checks whose output carried the right skill's signals (the evidence that led
  there); ``wasted``: the other checks of that run (the health check apart: the brain needs it to
  leave a healthy service alone);
- the failure kind when not resolved: ``no_signals`` (the checks gathered nothing any skill
  recognises: the runbook lacks the check that shows the cause), ``skills_absent`` (the candidates'
  diagnoses found nothing), ``fix_failed`` (a skill found the fault but the proof failed) or
  ``not_resolved``.
An :class:`Evidence` store collects attributions from mined trace logs and fresh evaluations; the
proposer learns from it and the feedback text (what GEPA's reflection sees) is written from it.
Recorded outputs are excerpts (the last 600 characters): a signal cut off is not seen here, and such
a run is marked ``uncertain`` instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field

from openhands_driver.brain.policy import signals

# Read-only checks: health, logs, info and looking at files through targetctl.
_READ_ONLY = re.compile(r"^targetctl\s+(status|logs|info)\b|^targetctl\s+exec\s+(ls|cat|head|tail|grep|stat|ps|find|wc)\b")
_SKILL_SCRIPT = re.compile(r"\.agents/skills/([a-z0-9-]+)/(diagnose|remediate)\.py\b")
_SKIPPED_TOOLS = {"invoke_skill", "think", "task_tracker", "finish"}
_PRESENT = re.compile(r'"fault_present"\s*:\s*(true|false)')
HEALTH_CHECKS = ("targetctl status",)  # never wasted: the brain's healthy exit reads it


def is_check(command: str) -> bool:
    return bool(_READ_ONLY.match(command.strip())) and ">" not in command


def default_catalog() -> dict[str, str]:
    """The shipped skills' descriptions (what the agent's skill list shows)."""
    from openhands_driver.skills import load_skills

    return {name: skill.description for name, skill in load_skills().items()}


def instance_key(row: dict) -> str:
    """``fault@seed`` for a blind/variant run, else the scenario id."""
    truth = row.get("ground_truth") or {}
    if truth.get("variant_seed") is not None:
        return f"{truth.get('fault_class') or row.get('scenario')}@{truth['variant_seed']}"
    return str(row.get("scenario"))


@dataclass(frozen=True)
class Attribution:
    """What one run tells an optimizer."""

    run_id: str
    scenario: str                     # the incident: fault@seed (or the scenario id)
    fixed: bool                       # resolved (the runner's proof; service_up without ground truth)
    steps: int
    checks: tuple[str, ...]           # read-only checks before the first change, in order
    needed: tuple[str, ...]           # checks whose output carried the right skill's signals
    wasted: tuple[str, ...]           # the run's other checks (health check apart)
    matched: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (check, skills whose signals it showed)
    skills_tried: tuple[tuple[str, bool | None], ...] = ()  # (skill, fault_present) in order
    right_skill: str | None = None
    fault: str | None = None          # the ground truth's fault class
    diagnosis_correct: bool | None = None
    reported: str = ""                # the class the agent reported
    kind: str | None = None           # failure kind (None when resolved)
    failure: str | None = None        # why the run did not end resolved, when it did not
    uncertain: bool = False           # resolved, but the excerpts do not show which check led there

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Attribution":
        def tup(value):
            return tuple(tup(v) for v in value) if isinstance(value, list) else value
        known = set(cls.__dataclass_fields__)
        return cls(**{k: tup(v) for k, v in data.items() if k in known})

    @property
    def signals_seen(self) -> bool:
        return any(skills for _, skills in self.matched)


def _present(output: str) -> bool | None:
    start = output.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(output, start)
        except json.JSONDecodeError:
            start = output.find("{", start + 1)
            continue
        if isinstance(value, dict) and isinstance(value.get("fault_present"), bool):
            return value["fault_present"]
        start = output.find("{", start + 1)
    found = _PRESENT.findall(output)  # an excerpt may have lost the object's opening brace
    return found[-1] == "true" if found else None


def _walk(actions: list[dict]) -> tuple[list[tuple[str, str]], list[tuple[str, bool | None]]]:
    """(checks with their outputs, skills tried with their diagnosis) from a run's actions."""
    checks: list[tuple[str, str]] = []
    tried: dict[str, bool | None] = {}
    changed = False
    for action in actions:
        tool, command = action.get("tool"), str(action.get("command") or "").strip()
        output = str(action.get("output_excerpt") or "")
        if tool == "invoke_skill":
            name = command
            if command.startswith("{"):
                try:
                    name = str(json.loads(command).get("name") or command)
                except ValueError:
                    pass
            tried.setdefault(name, None)
            continue
        if tool in _SKIPPED_TOOLS or tool != "terminal":
            continue
        script = _SKILL_SCRIPT.search(command)
        if script and script.group(2) == "diagnose":
            tried[script.group(1)] = _present(output)
            continue
        if script and tried.get(script.group(1)) is None:  # the brain remediates only a found fault
            tried[script.group(1)] = True
        if not is_check(command):
            changed = True
            continue
        if not changed:
            checks.append((command, output))
    return checks, list(tried.items())


def failure_reason(row: dict) -> str | None:
    from openhands_driver.optimizer.score import is_resolved

    if is_resolved(row):
        return None
    if row.get("error"):
        return str(row["error"])
    parts = [f"status {row.get('status')}"]
    if row.get("service_up"):
        failed = [name for name in ("mitigation", "durability", "collateral")
                  if (row.get(name) or {}).get("passed") is False]
        parts.append("service answers but the proof failed: " + ", ".join(failed or ["unknown"]))
    else:
        attempts = (row.get("verification") or {}).get("attempts") or []
        if attempts:
            parts.append(f"last probe: {attempts[-1].get('reason')}")
    if row.get("agent_message"):
        parts.append(f"agent said: {str(row['agent_message']).split('```')[0].strip()[:160]}")
    return "; ".join(parts)


def attribute(row: dict, catalog: dict[str, str] | None = None) -> Attribution:
    from openhands_driver.optimizer.score import is_resolved

    catalog = default_catalog() if catalog is None else catalog
    phrases = {name: [s.lower() for s in signals(text)] for name, text in catalog.items()}
    checks, tried = _walk(row.get("actions") or [])
    matched = tuple((command, tuple(name for name, sigs in sorted(phrases.items())
                                    if any(s in output.lower() for s in sigs)))
                    for command, output in checks)
    resolved = is_resolved(row)
    diagnosis = row.get("diagnosis") or {}
    correct = None if not diagnosis else bool(diagnosis.get("correct"))
    right = next((name for name, present in tried if present), None)
    if right is not None and not (resolved or correct):
        right = None
    needed = tuple(dict.fromkeys(c for c, skills in matched if right in skills)) if right else ()
    wasted = tuple(dict.fromkeys(c for c, _ in checks if c not in needed and c not in HEALTH_CHECKS)) \
        if needed else ()
    kind = None
    if not resolved:  # (skills the SDK injected on an alert keyword do not count as signals)
        if not any(skills for _, skills in matched):
            kind = "no_signals"
        elif tried and all(present is False for _, present in tried):
            kind = "skills_absent"
        elif any(present for _, present in tried):
            kind = "fix_failed"
        else:
            kind = "not_resolved"
    reported = (diagnosis.get("reported") or {}).get("fault_class", "") if diagnosis else ""
    return Attribution(
        run_id=str(row.get("run_id")), scenario=instance_key(row), fixed=resolved,
        steps=int(row.get("step_count") or 0), checks=tuple(c for c, _ in checks), needed=needed,
        wasted=wasted, matched=matched, skills_tried=tuple(tried), right_skill=right,
        fault=(row.get("ground_truth") or {}).get("fault_class") or row.get("local_fault"),
        diagnosis_correct=correct, reported=str(reported or ""), kind=kind,
        failure=failure_reason(row), uncertain=bool(resolved and right and not needed))


@dataclass
class Evidence:
    """Attributions by incident, from mined traces and fresh evaluations."""

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

    def all(self) -> list[Attribution]:
        return [a for runs in self.by_scenario.values() for a in runs]

    def needed_set(self, scenario: str) -> tuple[str, ...] | None:
        """The checks that led to the fix of this incident: the most often observed set (smallest on
        ties), from resolved runs."""
        sets = Counter(a.needed for a in self.by_scenario.get(scenario, []) if a.fixed and a.needed)
        if not sets:
            return None
        return sorted(sets, key=lambda s: (-sets[s], len(s), s))[0]

    def contributions(self) -> Counter:
        """check -> number of resolved runs whose right skill its output pointed to."""
        return Counter(c for a in self.all() if a.fixed for c in a.needed)

    def ever_needed(self) -> set[str]:
        return set(self.contributions())

    def ever_wasted(self) -> set[str]:
        return {c for a in self.all() for c in a.wasted}

    def ever_ran(self) -> set[str]:
        return {c for a in self.all() for c in a.checks}

    def blind_failures(self) -> list[Attribution]:
        """Unresolved runs whose checks gathered no signal any skill recognises."""
        return [a for a in self.all() if a.kind == "no_signals"]

    def skill_precedence(self) -> Counter:
        """(right skill, skill tried before it whose diagnosis found nothing) -> runs."""
        pairs: Counter = Counter()
        for a in self.all():
            if not a.right_skill:
                continue
            for name, present in a.skills_tried:
                if name == a.right_skill:
                    break
                if present is not True:  # the brain moves on only when a diagnosis found nothing
                    pairs[(a.right_skill, name)] += 1
        return pairs

    def right_skills(self) -> Counter:
        return Counter(a.right_skill for a in self.all() if a.right_skill and a.fixed)

    def summary(self) -> dict:
        return {scenario: {"runs": len(runs), "fixed": sum(a.fixed for a in runs),
                           "needed": list(self.needed_set(scenario) or ()),
                           "failures": dict(Counter(a.kind for a in runs if a.kind))}
                for scenario, runs in sorted(self.by_scenario.items())}


def mine(rows: list[dict], catalog: dict[str, str] | None = None) -> Evidence:
    """Evidence from trace rows (simulated and interrupted rows are not runs: skipped)."""
    catalog = default_catalog() if catalog is None else catalog
    evidence = Evidence()
    for row in rows:
        if row.get("simulate") or row.get("status") in ("simulated", "interrupted", "crashed"):
            continue
        attribution = attribute(row, catalog)
        if attribution.checks and evidence.add(attribution):
            evidence.mined_rows += 1
    return evidence


def _quoted(commands) -> str:
    return ", ".join(f"`{c}`" for c in commands) or "none"


def feedback(attribution: Attribution, score_value: float, max_risk: str, status: str,
             violations: list[dict] | None = None) -> str:
    """The feedback text for one evaluated run (GEPA's reflective dataset carries it)."""
    a = attribution
    head = (f"Incident {a.scenario}: "
            + (f"RESOLVED (proven) in {a.steps} steps" if a.fixed else f"NOT RESOLVED (status {status})")
            + f"; score {score_value:.3f}; highest risk {max_risk}.")
    lines = [head, f"Triage checks run ({len(a.checks)}): {_quoted(a.checks)}."]
    shown = [f"`{c}` showed signals of {', '.join(skills)}" for c, skills in a.matched if skills]
    lines.append("Signals seen: " + ("; ".join(shown) if shown else
                                     "none (no check's output carried any skill's Signals phrases)") + ".")
    if a.skills_tried:
        lines.append("Skills tried: " + ", ".join(
            f"{name} ({'fault found' if p else 'no fault' if p is False else 'not diagnosed'})"
            for name, p in a.skills_tried) + ".")
    if a.diagnosis_correct is not None:
        lines.append(f"Diagnosis {'correct' if a.diagnosis_correct else 'WRONG'}"
                     + (f" (reported {a.reported or 'nothing'})" if not a.diagnosis_correct else "") + ".")
    if a.needed:
        lines.append(f"The evidence that led to {a.right_skill} came from: {_quoted(a.needed)}.")
        if a.wasted:
            lines.append(f"Checks that contributed nothing here: {_quoted(a.wasted)} "
                         f"({len(a.wasted)} steps that could be saved).")
    if a.kind == "no_signals":
        lines.append("No check gathered evidence any skill recognises: the runbook lacks the check that "
                     "shows the cause (the service's health body is generic; causes show in the logs, "
                     "configuration and process state).")
    elif a.kind == "skills_absent":
        lines.append("The skills the signals pointed to found no fault of their kind.")
    elif a.kind == "fix_failed":
        lines.append("A skill found the fault but the fix was not proven.")
    for violation in violations or []:
        lines.append(f"Blocked by the safety gate ({violation.get('risk')} above "
                     f"{violation.get('max_allowed')}): `{violation.get('command')}` — remove or replace it.")
    if a.failure:
        lines.append(f"Failure: {a.failure}.")
    return "\n".join(lines)
