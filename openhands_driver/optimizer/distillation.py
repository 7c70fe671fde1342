"""Skill distillation: SKILL.md update *proposals* from successful traces, never applied silently.

For each skill in ``.agents/skills``: the verified runs that followed it (the command sequence most
often seen in fixed runs, with step and duration stats), and what triage runs of the same
scenario learned (the checks that found the fault, from :mod:`.mining`). The proposal replaces or
appends a ``## Field notes`` section (not a Diagnose/Remediate/Verify heading, so the runbook brain's
procedure is unchanged) and is written with a unified diff under ``artifacts/skill_proposals/<stamp>/``
for review. ``.agents/skills`` is only read.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections import Counter
from pathlib import Path
from statistics import median

from openhands_driver.optimizer.mining import attribute
from openhands_driver.paths import REPO_ROOT
from openhands_driver.reports.stats import percentile
from openhands_driver.skills import load_skills
from openhands_driver.trace import read_rows

NOTES_HEADING = "## Field notes"
_NOTES = re.compile(r"^## Field notes.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def _skill_of(row: dict) -> str | None:
    return row.get("skill_id") or (row.get("routing") or {}).get("skill_id")


def _sequence(row: dict) -> tuple[str, ...]:
    return tuple(f"{a['command']}" if a.get("tool") == "terminal" else f"{a.get('tool')} {a.get('command')}"
                 for a in row.get("actions") or [] if a.get("tool") != "finish")


def _notes(skill: str, followed: list[dict], triage: list[dict], trace_log: Path) -> tuple[str, dict] | None:
    fixed = [r for r in followed if r.get("service_up")]
    found = Counter(a.needed for a in map(attribute, triage) if a.fixed and a.needed)
    if not fixed and not found:
        return None
    stats = {"skill_runs": len(followed), "skill_fixed": len(fixed),
             "triage_runs": len(triage), "triage_fixed": sum(bool(r.get("service_up")) for r in triage)}
    lines = [NOTES_HEADING, "",
             f"_Proposed by `optimize.py --distill-skills` from {trace_log.name}; review before merging._", ""]
    if fixed:
        sequence, seen = Counter(_sequence(r) for r in fixed).most_common(1)[0]
        steps = [int(r.get("step_count") or 0) for r in fixed]
        durations = [float(r.get("duration_s") or 0.0) for r in fixed]
        stats.update(median_steps=median(steps), p50_s=round(percentile(durations, 50), 3),
                     sequence=list(sequence), sequence_runs=seen)
        lines += [f"Verified by {len(fixed)} of {len(followed)} runs that followed this skill "
                  f"(median {median(steps):g} steps, p50 {percentile(durations, 50):.1f}s). "
                  f"The sequence seen in {seen} of them:", ""]
        lines += [f"{i}. `{command}`" for i, command in enumerate(sequence, 1)] + [""]
    if found:
        needed, count = found.most_common(1)[0]
        stats.update(found_by=list(needed))
        lines += [f"Generic triage found this fault with {', '.join(f'`{c}`' for c in needed)} "
                  f"({count} of {stats['triage_runs']} triage runs of its scenarios).", ""]
    return "\n".join(lines).rstrip() + "\n", stats


def _proposed_text(current: str, notes: str) -> str:
    if _NOTES.search(current):
        return _NOTES.sub(lambda _: notes + "\n", current).rstrip() + "\n"
    return current.rstrip() + "\n\n" + notes


def distill(trace_log: str | Path, proposal_dir: str | Path, skills_dir: Path | None = None) -> dict:
    """Write proposals (proposed SKILL.md files, one diff, a summary JSON); return the summary."""
    trace_log = Path(trace_log)
    rows = [r for r in read_rows(trace_log)
            if not r.get("simulate") and r.get("status") not in ("interrupted", "crashed")]
    skills = load_skills(skills_dir) if skills_dir else load_skills()
    out_dir = Path(proposal_dir) / time.strftime("%Y%m%d-%H%M%S")
    summary = {"trace_log": str(trace_log), "rows": len(rows), "proposal_dir": str(out_dir),
               "skills": {}, "diff": None, "applied": False}
    diffs = []
    for name, skill in skills.items():
        followed = [r for r in rows if r.get("skill_id") == name]
        triage = [r for r in rows if not r.get("skill_id") and _skill_of(r) == name]
        made = _notes(name, followed, triage, trace_log)
        if made is None:
            summary["skills"][name] = {"proposed": False, "why": "no fixed run of this skill or its scenario"}
            continue
        notes, stats = made
        current = skill.path.read_text(encoding="utf-8")
        proposed = _proposed_text(current, notes)
        if proposed == current:
            summary["skills"][name] = {"proposed": False, "why": "the field notes are already up to date", **stats}
            continue
        target = out_dir / name / "SKILL.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(proposed, encoding="utf-8")
        rel = skill.path.relative_to(REPO_ROOT) if skill.path.is_relative_to(REPO_ROOT) else skill.path
        diffs += difflib.unified_diff(current.splitlines(keepends=True), proposed.splitlines(keepends=True),
                                      fromfile=f"a/{rel}", tofile=f"b/{rel}")
        summary["skills"][name] = {"proposed": True, "file": str(target), **stats}
    if diffs:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "skills.diff").write_text("".join(diffs), encoding="utf-8")
        summary["diff"] = str(out_dir / "skills.diff")
        summary["apply_with"] = f"git apply {out_dir / 'skills.diff'}  (after review)"
    if any(s["proposed"] for s in summary["skills"].values()):
        (out_dir / "proposals.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
