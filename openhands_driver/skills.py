"""The runbook skill catalog under ``.agents/skills/<name>/SKILL.md``.

This reads the same files the SDK's ``load_project_skills`` reads, but only their frontmatter and
body, with no SDK import, so routing and dry runs stay fast. The SDK loads them again for the real
conversation (``openhands_driver.conversation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from openhands_driver.paths import SKILLS_DIR


@dataclass(frozen=True)
class SkillInfo:
    name: str
    description: str
    triggers: tuple[str, ...]
    path: Path
    body: str

    @property
    def directory(self) -> Path:
        return self.path.parent


def parse_skill_file(path: Path) -> SkillInfo:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise ValueError(f"{path}: SKILL.md must start with a YAML frontmatter block")
    _, front, body = text.split("---", 2)
    meta = yaml.safe_load(front) or {}
    name = str(meta.get("name", ""))
    if name != path.parent.name:
        raise ValueError(f"{path}: frontmatter name {name!r} must equal the folder name "
                         f"{path.parent.name!r} (the SDK skips it otherwise)")
    triggers = meta.get("triggers") or []
    if isinstance(triggers, str):
        triggers = [triggers]
    return SkillInfo(name=name, description=str(meta.get("description", "")).strip(),
                     triggers=tuple(str(t) for t in triggers), path=path, body=body.strip())


@lru_cache(maxsize=8)
def load_skills(skills_dir: Path = SKILLS_DIR) -> dict[str, SkillInfo]:
    """All skills by name, sorted by name."""
    skills = {}
    for skill_md in sorted(Path(skills_dir).glob("*/SKILL.md")):
        info = parse_skill_file(skill_md)
        skills[info.name] = info
    return skills
