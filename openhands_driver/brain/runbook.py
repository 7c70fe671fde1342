"""Runbook text -> ordered command lists (Diagnose / Remediate / Verify).

Runbooks are markdown: a skill body, a triage checklist, or an optimizer candidate. Commands are the
non-comment lines of fenced ``bash``/``sh`` blocks under ``## Diagnose``, ``## Remediate`` and
``## Verify`` headings (``api`` blocks instead with ``dialect="api"``: the platform-API lines of
``--toolset api``, see api_steps.py; headings like ``## Diagnose (API)``). Blocks under other
headings are ignored. A triage runbook may also list
skills to prefer, in order, as ``- name`` items under a ``## Skills`` heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PHASES = ("diagnose", "remediate", "verify")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")
_FENCE = re.compile(r"^\s*```\s*([\w-]*)\s*$")


@dataclass(frozen=True)
class Runbook:
    diagnose: tuple[str, ...] = ()
    remediate: tuple[str, ...] = ()
    verify: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()   # skills to try first when their signals match, in order
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.diagnose or self.remediate or self.verify)

    def to_dict(self) -> dict:
        return {"diagnose": list(self.diagnose), "remediate": list(self.remediate),
                "verify": list(self.verify), "skills": list(self.skills)}


def _phase_of(heading: str) -> str | None:
    first = heading.strip().lower().split()[0] if heading.strip() else ""
    for phase in PHASES:  # "Diagnosis", "Remediation", "Verification" count too
        if first.startswith(phase[:5]):
            return phase
    return None


def parse_runbook(text: str, dialect: str = "shell") -> Runbook:
    commands: dict[str, list[str]] = {phase: [] for phase in PHASES}
    skills: list[str] = []
    phase: str | None = None
    in_skills = False
    in_block = False
    shell_block = False
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            if in_block:
                in_block = False
            else:
                in_block = True
                lang = fence.group(1).lower()
                shell_block = (lang == "api") if dialect == "api" else lang in ("bash", "sh", "shell", "console", "")
            continue
        if in_block:
            stripped = line.strip()
            if phase and shell_block and stripped and not stripped.startswith("#"):
                commands[phase].append(stripped.removeprefix("$ "))
            continue
        heading = _HEADING.match(line)
        if heading:
            phase = _phase_of(heading.group(1))
            in_skills = heading.group(1).strip().lower() == "skills"
            continue
        item = re.match(r"^\s*[-*]\s+`?([a-z0-9][a-z0-9-]*)`?\s*$", line)
        if in_skills and item:
            skills.append(item.group(1))
    return Runbook(skills=tuple(skills), **{phase: tuple(cmds) for phase, cmds in commands.items()})
