"""The one skill router: incident -> runbook skill (or, validly, none).

Order of decision: a forced ``--skill-id``; the scenario's own skill (its ``skill_id`` or the skill
named after its local fault); then trigger scoring of the incident text. When nothing matches, the
decision is ``skill_id=None`` and the agent receives the catalog instead of a wrong default.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from openhands_driver.errors import UserError
from openhands_driver.scenarios import Scenario
from openhands_driver.skills import SkillInfo, load_skills


@dataclass(frozen=True)
class RoutingDecision:
    skill_id: str | None
    method: str  # "forced" | "scenario" | "triggers" | "none"
    reason: str
    scores: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _trigger_hits(skill: SkillInfo, text: str) -> list[str]:
    lowered = text.lower()
    hits = []
    for trigger in skill.triggers:
        pattern = r"(?<![\w-])" + re.escape(trigger.lower()) + r"(?![\w-])"
        if re.search(pattern, lowered):
            hits.append(trigger)
    return hits


def score_text(text: str, skills: dict[str, SkillInfo]) -> dict[str, list[str]]:
    """Trigger hits per skill for an incident text (only skills with at least one hit)."""
    scored = {name: _trigger_hits(skill, text) for name, skill in skills.items()}
    return {name: hits for name, hits in scored.items() if hits}


def route(scenario: Scenario | None, incident_text: str, *, forced_skill: str | None = None,
          skills: dict[str, SkillInfo] | None = None) -> RoutingDecision:
    skills = load_skills() if skills is None else skills
    if forced_skill:
        if forced_skill not in skills:
            raise UserError(f"unknown skill {forced_skill!r}. Valid skills: {', '.join(skills)}")
        return RoutingDecision(forced_skill, "forced", f"--skill-id {forced_skill} given")
    if scenario is not None:
        candidates = [scenario.skill_id]
        if scenario.local_fault:
            candidates.append(scenario.local_fault.replace("_", "-"))
        for candidate in candidates:
            if candidate and candidate in skills:
                return RoutingDecision(candidate, "scenario",
                                       f"scenario {scenario.scenario_id} maps to skill {candidate}")
    hits = score_text(incident_text, skills)
    scores = {name: len(h) for name, h in hits.items()}
    if not hits:
        return RoutingDecision(None, "none", "no skill matched: no trigger found in the incident "
                               "text; the agent gets the skill catalog", scores)
    best = sorted(hits, key=lambda name: (-len(hits[name]), name))[0]
    return RoutingDecision(best, "triggers", f"triggers {hits[best]} matched skill {best}", scores)
