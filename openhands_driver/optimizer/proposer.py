"""The deterministic proposer: new Diagnose orders learned from run evidence (no model needed).

From the :class:`~openhands_driver.optimizer.mining.Evidence` (mined traces plus every evaluation so
far) it knows, per scenario, the smallest set of checks that found the fault. A proposal puts those
checks first, scenario by scenario (the scenario needing the fewest missing checks first, shared checks
before specific ones), adds needed checks the text lacks, and keeps the rest after them as fallbacks
for incidents nobody has seen yet. The "lean" variant also drops checks that were observed wasted and
never needed. Proposals are only proposals: the search (GEPA or the iterative loop) measures each one
with real runs and keeps the best.

It plugs into GEPA as ``custom_candidate_proposer`` (same signature as ``GEPAAdapter.propose_new_texts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from openhands_driver.optimizer.candidate import COMPONENT, candidate_id, diagnose_commands, with_diagnose
from openhands_driver.optimizer.mining import Attribution, Evidence

VARIANTS = ("evidence-first", "lean")


def evidence_order(checks: list[str], evidence: Evidence,
                   scenarios: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(checks that found faults, in the proposed order; {check: scenarios it found})."""
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


class Proposer:
    """Deterministic, evidence-driven proposals; remembers what it proposed so it never repeats."""

    name = "deterministic"

    def __init__(self, evidence: Evidence, scenarios: Sequence[str], seen: set[str] | None = None):
        self.evidence = evidence
        self.scenarios = list(scenarios)
        self.seen = seen if seen is not None else set()
        self.proposed: list[dict] = []  # {"candidate_id", "parent_id", "variant"}

    def variants(self, text: str) -> list[tuple[str, str]]:
        """Distinct (variant name, new text) pairs that differ from ``text``."""
        checks = diagnose_commands(text)
        ordered, found_in = evidence_order(checks, self.evidence, self.scenarios)
        if not ordered:
            return []
        notes = {c: "found the fault in: " + ", ".join(found_in[c]) for c in ordered}
        rest = [c for c in checks if c not in ordered]
        useful = self.evidence.ever_needed()
        wasted = self.evidence.ever_wasted()
        lean_rest = [c for c in rest if c in useful or c not in wasted]
        out: list[tuple[str, str]] = []
        for name, tail in zip(VARIANTS, (rest, lean_rest)):
            tail_notes = dict(notes)
            if tail:
                tail_notes[tail[0]] = "fallback checks: no recorded run of these scenarios needed them"
            new_text = with_diagnose(text, ordered + tail, tail_notes)
            if new_text.strip() != text.strip() and all(new_text != t for _, t in out):
                out.append((name, new_text))
        return out

    def next_proposal(self, text: str) -> tuple[str, str] | None:
        """The first variant not evaluated or proposed before, or None when there is nothing new."""
        for name, new_text in self.variants(text):
            if candidate_id(new_text) not in self.seen:
                return name, new_text
        return None

    def exhausted(self, texts: Sequence[str]) -> bool:
        return all(self.next_proposal(t) is None for t in texts)

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
        updates: dict[str, str] = {}
        for component in components_to_update:
            if component != COMPONENT:
                continue
            proposal = self.next_proposal(candidate[component])
            if proposal is None:
                continue  # GEPA skips an iteration with no new text
            variant, new_text = proposal
            self.seen.add(candidate_id(new_text))
            self.proposed.append({"candidate_id": candidate_id(new_text),
                                  "parent_id": candidate_id(candidate[component]), "variant": variant})
            updates[component] = new_text
        return updates
