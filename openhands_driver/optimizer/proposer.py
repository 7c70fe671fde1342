"""The deterministic proposer: new triage runbooks learned from run evidence (no model needed).

From the :class:`~openhands_driver.optimizer.mining.Evidence` (mined traces plus every evaluation so
far) it knows, per incident, which checks gathered the signals that led the brain to the skill that
resolved it, which checks contributed nothing, which runs failed because no check showed any skill's
signals, and which skills were tried in vain before the right one. Variants, in order:

- ``explore``: runs of this very checklist failed without a signal (or with only wrong skills): add
  the checks other runs showed to carry signals, then the project's other triage checks (the Diagnose
  commands of ``training_data/strategies/*.md``) that the text lacks;
- ``lean``: only the health check and the checks that ever led to a fix (drops checks observed to
  contribute nothing: the brain runs every check before it ranks, so each one is a step);
- ``prefer-skills``: the lean checks plus a ``## Skills`` list ordering the skills that resolved
  incidents ahead of the ones tried in vain before them;
- ``evidence-first``: the checks that led to fixes first (shared ones before specific ones), the
  rest after them as fallbacks (for a reader or a model: the brain's steps do not change).
Proposals are only proposals: the search (GEPA or the iterative loop) measures each one with real
runs and keeps the best. Only the triage runbook is rewritten; skill components (``skill:<name>``)
are left to a reflection model.

It plugs into GEPA as ``custom_candidate_proposer`` (same signature as ``GEPAAdapter.propose_new_texts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from openhands_driver.optimizer.candidate import (COMPONENT, candidate_id, diagnose_commands,
                                                  preferred_skills, with_diagnose, with_skills)
from openhands_driver.optimizer.mining import HEALTH_CHECKS, Attribution, Evidence

VARIANTS = ("explore", "lean", "prefer-skills", "evidence-first")


def vocabulary() -> list[str]:
    """The project's triage checks: the Diagnose commands of its shipped strategy files, in order."""
    from openhands_driver.brain.runbook import parse_runbook
    from openhands_driver.strategy import BASELINE_RUNBOOK, STRATEGY_DIR

    files = [BASELINE_RUNBOOK] + sorted(p for p in STRATEGY_DIR.glob("*.md") if p != BASELINE_RUNBOOK)
    found: list[str] = []
    for path in files:
        for command in parse_runbook(path.read_text(encoding="utf-8")).diagnose:
            if command not in found:
                found.append(command)
    return found


def evidence_order(checks: list[str], evidence: Evidence,
                   scenarios: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(checks that led to fixes, in the proposed order; {check: incidents it led to})."""
    needed = {s: set(n) for s in scenarios if (n := evidence.needed_set(s))}
    found_in: dict[str, list[str]] = {}
    for scenario, commands in sorted(needed.items()):
        for command in commands:
            found_in.setdefault(command, []).append(scenario)
    frequency = Counter({c: len(s) for c, s in found_in.items()})
    position = {c: i for i, c in enumerate(checks)}
    ordered: list[str] = []
    remaining = {s: set(n) for s, n in needed.items()}
    while any(remaining.values()):
        scenario = min((s for s in remaining if remaining[s]),
                       key=lambda s: (len(remaining[s]), -sum(frequency[c] for c in remaining[s]), s))
        ordered += sorted(remaining[scenario],
                          key=lambda c: (-frequency[c], position.get(c, len(position)), c))
        for pending in remaining.values():
            pending.difference_update(ordered)
    return ordered, found_in


def skill_order(evidence: Evidence) -> list[str]:
    """Skills that resolved incidents, those tried in vain before them last: wins - losses, then
    resolved runs, then name."""
    pairs, right = evidence.skill_precedence(), evidence.right_skills()
    score = Counter()
    for (winner, loser), count in pairs.items():
        score[winner] += count
        score[loser] -= count
    return sorted(right, key=lambda s: (-score[s], -right[s], s))


def _family(command: str) -> str:
    """Checks that show the same thing: ``targetctl logs -n 40`` and ``-n 60`` are one family; an
    ``exec`` is its whole command line."""
    words = command.split()
    return command if words[1:2] == ["exec"] else " ".join(words[:2])


def _health_first(commands: list[str]) -> list[str]:
    return [c for c in HEALTH_CHECKS if c in commands] + [c for c in commands if c not in HEALTH_CHECKS]


class Proposer:
    """Deterministic, evidence-driven proposals; remembers what it proposed so it never repeats."""

    name = "deterministic"

    def __init__(self, evidence: Evidence, scenarios: Sequence[str], seen: set[str] | None = None,
                 vocabulary: Sequence[str] | None = None):
        self.evidence = evidence
        self.scenarios = list(scenarios)
        self.seen = seen if seen is not None else set()
        self.vocabulary = list(vocabulary) if vocabulary is not None else globals()["vocabulary"]()
        self.proposed: list[dict] = []  # {"candidate_id", "parent_id", "variant"}

    def _explore(self, checks: list[str]) -> tuple[list[str], dict[str, str]] | None:
        mine = [a for a in self.evidence.all() if list(a.checks) == checks and not a.fixed
                and a.kind in ("no_signals", "skills_absent", "not_resolved")]
        if not mine:
            return None
        added: list[str] = []
        for command in [c for c, _ in self.evidence.contributions().most_common()] + self.vocabulary:
            if all(_family(command) != _family(c) for c in checks + added):
                added.append(command)
        if not added:
            return None
        kinds = Counter(a.kind for a in mine)
        why = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
        notes = {added[0]: f"added: {len(mine)} runs of the previous checklist failed ({why})"}
        return _health_first(checks + added), notes

    def variants(self, text: str) -> list[tuple[str, str]]:
        """Distinct (variant name, new text) pairs that differ from ``text``."""
        checks = diagnose_commands(text)
        out: list[tuple[str, str]] = []

        def add(name: str, new_text: str) -> None:
            if new_text.strip() != text.strip() and all(new_text != t for _, t in out):
                out.append((name, new_text))

        explored = self._explore(checks)
        if explored:
            add("explore", with_diagnose(text, *explored))
        ordered, found_in = evidence_order(checks, self.evidence, self.scenarios)
        if not ordered:
            return out
        # Counts only: the runbook travels in every incident's message, so it must never name an
        # incident or its fault (skill triggers fire on words in the message).
        notes = {c: f"led to the fix in {len(found_in[c])} training incident(s)" for c in ordered}
        rest = [c for c in checks if c not in ordered]
        first = _health_first(ordered + rest)
        tail_notes = dict(notes)
        if rest and [c for c in rest if c not in HEALTH_CHECKS]:
            tail_notes[next(c for c in rest if c not in HEALTH_CHECKS)] = \
                "fallback checks: no recorded run needed them"
        # The brain runs every Diagnose check before it ranks the skills: dropping checks saves steps,
        # reordering them does not, so lean comes before evidence-first.
        useful, wasted = self.evidence.ever_needed(), self.evidence.ever_wasted()
        lean = _health_first([c for c in ordered + rest
                              if c in HEALTH_CHECKS or c in useful or c not in wasted])
        lean_text = with_diagnose(text, lean, notes)
        add("lean", lean_text)
        skills = skill_order(self.evidence)
        if self.evidence.skill_precedence() and skills and skills != preferred_skills(text):
            add("prefer-skills", with_skills(lean_text, skills))
        add("evidence-first", with_diagnose(text, first, tail_notes))
        return out

    def next_proposal(self, text: str) -> tuple[str, str] | None:
        """The first variant not evaluated or proposed before, or None when there is nothing new."""
        for name, new_text in self.variants(text):
            if candidate_id(new_text) not in self.seen:
                return name, new_text
        return None

    def _key(self, candidate: dict[str, str], text: str) -> str:
        return candidate_id({**candidate, COMPONENT: text})

    def next_for(self, candidate: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        """The next new candidate (other components unchanged), or None."""
        for name, new_text in self.variants(candidate[COMPONENT]):
            if self._key(candidate, new_text) not in self.seen:
                return name, {**candidate, COMPONENT: new_text}
        return None

    def exhausted(self, candidates: Sequence[dict[str, str] | str]) -> bool:
        return all(self.next_for(c if isinstance(c, dict) else {COMPONENT: c}) is None for c in candidates)

    def learn(self, reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Add the attributions GEPA's reflective dataset carries (evaluations already in are skipped)."""
        for records in reflective_dataset.values():
            for record in records:
                if isinstance(record.get("evidence"), dict):
                    self.evidence.add(Attribution.from_dict(record["evidence"]))

    def __call__(self, candidate: dict[str, str],
                 reflective_dataset: Mapping[str, Sequence[Mapping[str, Any]]],
                 components_to_update: list[str]) -> dict[str, str]:
        self.learn(reflective_dataset)
        if COMPONENT not in components_to_update:
            return {}
        proposal = self.next_for(candidate)
        if proposal is None:
            return {}  # GEPA skips an iteration with no new text
        variant, new = proposal
        new_id = candidate_id(new)
        self.seen.add(new_id)
        self.proposed.append({"candidate_id": new_id, "parent_id": candidate_id(candidate), "variant": variant})
        return {COMPONENT: new[COMPONENT]}
