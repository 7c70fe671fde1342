"""The candidate: the texts the agent receives, as a GEPA candidate dict.

A candidate is ``{"triage_runbook": "<markdown>"}`` (a runbook in the format of
``training_data/strategies/*.md``, see :mod:`openhands_driver.brain.runbook`), optionally with
``"skill:<name>": "<SKILL.md body>"`` components (``optimize.py --candidate skill:<name>``: that text
replaces the skill's body in each run's workspace copy). The runbook brain runs the triage runbook's
``## Diagnose`` checks to gather symptoms, then tries the skills whose ``Signals:`` those outputs show,
preferring the runbook's ``## Skills`` list in its order: the choice of checks and that list are what
an optimizer can improve. This module reads and rewrites those two sections and leaves every other
line of the text as it was.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from openhands_driver.brain.runbook import parse_runbook
from openhands_driver.errors import UserError

COMPONENT = "triage_runbook"
SKILL_PREFIX = "skill:"
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$")
_FENCE = re.compile(r"^\s*```\s*([\w-]*)\s*$")
_SHELL = ("bash", "sh", "shell", "console", "")
_TAGS = re.compile(r"</?runbook\b", re.IGNORECASE)


def candidate_id(candidate: str | dict[str, str]) -> str:
    """A short stable id for a candidate (the same texts always get the same id; a candidate with only
    the triage runbook has the id of that text)."""
    if isinstance(candidate, dict):
        extra = {k: v.strip() for k, v in candidate.items() if k != COMPONENT}
        text = candidate.get(COMPONENT, "")
        if extra:
            text = text.strip() + "\n" + "\n".join(f"\0{k}\0{v}" for k, v in sorted(extra.items()))
        candidate = text
    return hashlib.sha256(candidate.strip().encode()).hexdigest()[:10]


def skill_overrides(candidate: dict[str, str]) -> dict[str, str]:
    """{skill name: SKILL.md text} for the candidate's ``skill:<name>`` components."""
    return {k[len(SKILL_PREFIX):]: v for k, v in candidate.items() if k.startswith(SKILL_PREFIX)}


def as_candidate(text: str) -> dict[str, str]:
    return {COMPONENT: text.strip() + "\n"}


def load_seed(path: str | Path) -> str:
    """Read a seed strategy file; it must carry at least one diagnose check."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"seed strategy not found: {path}. Pass --seed-strategy with a runbook like "
                        "training_data/strategies/baseline_triage.md") from None
    except IsADirectoryError:
        raise UserError(f"seed strategy {path} is a directory. Pass --seed-strategy with a runbook file "
                        "like training_data/strategies/baseline_triage.md") from None
    except UnicodeDecodeError:
        raise UserError(f"seed strategy {path} is not UTF-8 text (a binary file?). Pass --seed-strategy "
                        "with a markdown runbook like training_data/strategies/baseline_triage.md") from None
    except OSError as exc:
        raise UserError(f"seed strategy {path} cannot be read ({exc.strerror or exc}). Pass "
                        "--seed-strategy with a readable runbook file") from None
    if "\x00" in text:
        raise UserError(f"seed strategy {path} holds NUL bytes (a binary file?). Pass --seed-strategy "
                        "with a markdown runbook like training_data/strategies/baseline_triage.md")
    problem = check_text(text)
    if problem:
        raise UserError(f"seed strategy {path}: {problem}")
    return text.strip() + "\n"


def check_text(text: str) -> str | None:
    """Why this text cannot be a strategy, or None when it can."""
    if _TAGS.search(text):
        return "it must not contain <runbook> tags (the incident message adds them)"
    if not parse_runbook(text).diagnose:
        return "it has no commands in a fenced bash block under a '## Diagnose' heading"
    return None


def diagnose_commands(text: str) -> list[str]:
    return list(parse_runbook(text).diagnose)


def preferred_skills(text: str) -> list[str]:
    return list(parse_runbook(text).skills)


def with_skills(text: str, skills: list[str]) -> str:
    """The same text with its ``## Skills`` list replaced by ``skills`` (added before ``## Verify``
    when missing; removed when ``skills`` is empty)."""
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines)
                  if (m := _HEADING.match(line)) and m.group(1).strip().lower() == "skills"), None)
    section = ["## Skills", *[f"- {name}" for name in skills], ""] if skills else []
    if start is None:
        if not skills:
            return text.strip() + "\n"
        at = next((i for i, line in enumerate(lines)
                   if (m := _HEADING.match(line)) and m.group(1).lower().startswith(("remed", "verif"))),
                  len(lines))
        out = lines[:at] + ([""] if at and lines[at - 1].strip() else []) + section + lines[at:]
    else:
        end = next((i for i in range(start + 1, len(lines)) if _HEADING.match(lines[i])), len(lines))
        out = lines[:start] + section + lines[end:]
    return "\n".join(out).strip() + "\n"


def _diagnose_blocks(lines: list[str]) -> tuple[int | None, list[tuple[int, int]]]:
    """(index of the Diagnose heading, [(fence open, fence close) of each shell block under it])."""
    heading_at, blocks = None, []
    in_diagnose, open_at, shell = False, None, False
    for index, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence:
            if open_at is None:
                open_at, shell = index, fence.group(1).lower() in _SHELL
            else:
                if in_diagnose and shell:
                    blocks.append((open_at, index))
                open_at = None
            continue
        if open_at is not None:
            continue
        heading = _HEADING.match(line)
        if heading:
            words = heading.group(1).strip().lower().split()
            in_diagnose = bool(words) and words[0].startswith("diagno")
            if in_diagnose and heading_at is None:
                heading_at = index
    return heading_at, blocks


def with_diagnose(text: str, commands: list[str], notes: dict[str, str] | None = None) -> str:
    """The same text with its Diagnose checks replaced by ``commands`` (in that order).

    ``notes`` maps a command to a one-line comment written above it (comments are ignored by the
    runbook parser, a reader or a model sees why the check sits where it does).
    """
    notes = notes or {}
    body = []
    for command in commands:
        if command in notes:
            body.append(f"# {notes[command]}")
        body.append(command)
    lines = text.strip().splitlines()
    heading_at, blocks = _diagnose_blocks(lines)
    if not blocks:
        section = ["", "## Diagnose", "```bash", *body, "```", ""]
        verify_at = next((i for i, line in enumerate(lines)
                          if (m := _HEADING.match(line)) and m.group(1).lower().startswith(("remed", "verif"))),
                         len(lines))
        return "\n".join(lines[:verify_at] + section + lines[verify_at:]).strip() + "\n"
    first_open, first_close = blocks[0]
    out = lines[:first_open + 1] + body + lines[first_close:first_close + 1]
    cursor = first_close + 1
    for open_at, close_at in blocks[1:]:
        out += lines[cursor:open_at]
        cursor = close_at + 1
    out += lines[cursor:]
    return "\n".join(out).strip() + "\n"
