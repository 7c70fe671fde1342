"""Skill overrides: one run's workspace copy of a skill gets another SKILL.md text.

How the optimizer evaluates a skill candidate (``optimize.py --candidate skill:<name>``): the run's
workspace holds its own ``.agents`` (the runner copies the project's skills there); this hook rewrites
``.agents/skills/<name>/SKILL.md`` in that copy only. A text that starts with a ``---`` frontmatter
replaces the whole file; otherwise it replaces the body and the skill keeps its frontmatter (name,
description with its ``Signals:``, triggers). The project's ``.agents`` is never written: a workspace
whose ``.agents`` is a link into the repository is turned into a real copy first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from openhands_driver.errors import UserError


def merged_text(current: str, override: str) -> str:
    """The SKILL.md text with ``override`` applied (see the module docstring)."""
    if override.lstrip().startswith("---"):
        return override.strip() + "\n"
    if current.startswith("---"):
        _, front, _body = current.split("---", 2)
        return f"---{front}---\n{override.strip()}\n"
    return override.strip() + "\n"


def apply_skill_overrides(workspace: Path, overrides: dict[str, str] | None) -> list[str]:
    """Rewrite the overridden skills in ``workspace/.agents``; the names rewritten."""
    if not overrides:
        return []
    agents = Path(workspace) / ".agents"
    if not agents.exists():
        raise UserError("skill overrides need the project skills in the workspace (this strategy "
                        "runs without skills, e.g. --mode baseline)")
    if agents.is_symlink():  # never write through a link into the repository
        source = agents.resolve()
        agents.unlink()
        shutil.copytree(source, agents)
    done = []
    for name, text in sorted(overrides.items()):
        path = agents / "skills" / name / "SKILL.md"
        if not path.is_file():
            known = sorted(p.parent.name for p in (agents / "skills").glob("*/SKILL.md"))  # not _lib
            raise UserError(f"skill override for unknown skill {name!r}; known: {', '.join(known)}")
        path.write_text(merged_text(path.read_text(encoding="utf-8"), text), encoding="utf-8")
        done.append(name)
    return done
