"""Evaluating a candidate: one real blind incident per (candidate, incident): one metric call.

An incident is ``fault@seed``: the fault class's generator draws the variant from the seed (file
names, settings, decoys, the service's name) and the agent is paged with a symptom-level alert only
(``RunConfig(blind=True, variant_seed=seed)``). Each evaluation runs
:func:`openhands_driver.runner.run_incident` in-process with the candidate's triage runbook as the
strategy (``strategy_source="optimizer"``) and its ``skill:<name>`` texts as skill overrides: a real
target, the runbook brain driving a real SDK conversation, the independent verifier and the runner's
proof (mitigation oracle, durability, collateral), and a trace row in the evaluation trace log. The
row is scored (:mod:`.score`, by ``resolved``) and attributed (:mod:`.mining`); the attribution joins
the shared evidence the proposer learns from. The ledger keeps every evaluation, so every score in
the result file points at a run id with its own trace row.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from openhands_driver.config import RunConfig
from openhands_driver.errors import UserError
from openhands_driver.optimizer.candidate import COMPONENT, candidate_id, skill_overrides
from openhands_driver.optimizer.mining import Attribution, Evidence, attribute, feedback
from openhands_driver.optimizer.score import RunScore, score_row


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def incident_key(fault: str, seed: int) -> str:
    return f"{fault}@{seed}"


def parse_incident(key: str) -> tuple[str, int | None]:
    """``fault@seed`` -> (fault, seed); a plain scenario id -> (id, None)."""
    fault, sep, seed = key.rpartition("@")
    if not sep:
        return key, None
    if not seed.isdigit():
        raise UserError(f"incident {key!r}: the seed after '@' must be a whole number")
    return fault, int(seed)


@dataclass(frozen=True)
class Evaluation:
    seq: int
    candidate_id: str
    scenario: str          # the fault class (the scenario id of the blind catalog)
    run_id: str
    score: RunScore
    attribution: Attribution
    feedback: str
    duration_s: float
    actions: tuple[str, ...] = ()  # "tool: command" for every action, in order
    incident: str = ""             # fault@seed
    phase: str = "search"          # search | validation

    def to_dict(self) -> dict:
        return {"seq": self.seq, "candidate_id": self.candidate_id, "scenario": self.scenario,
                "incident": self.incident, "phase": self.phase, "run_id": self.run_id,
                "score": self.score.value, "fixed": self.score.fixed, "resolved": self.score.fixed,
                "service_up": self.score.service_up, "diagnosis_correct": self.score.diagnosis_correct,
                "steps": self.score.steps, "status": self.score.status,
                "max_risk": self.score.max_risk, "duration_s": self.duration_s,
                "found_by": list(self.attribution.needed), "wasted": list(self.attribution.wasted),
                "skills_tried": [list(s) for s in self.attribution.skills_tried],
                "failure_kind": self.attribution.kind}


@dataclass
class Evaluator:
    """Runs candidates on blind incidents for real and keeps the ledger."""

    trace_log: Path
    evidence: Evidence
    training_data: Path | None = None      # the catalog holding one scenario per fault class
    verify_interval_s: float = 0.3
    max_iterations: int = 40
    soak_s: float = 1.0
    budget: int | None = None
    console: TextIO | None = None          # progress lines (stderr by default)
    verbose: bool = False                  # stream the agent's actions too
    catalog: dict[str, str] | None = None  # skill descriptions for attribution (None: shipped skills)
    session: str = field(default_factory=lambda: time.strftime("%m%d%H%M%S") + uuid.uuid4().hex[:4])
    ledger: list[Evaluation] = field(default_factory=list)
    validation: list[Evaluation] = field(default_factory=list)  # held-out runs (not metric calls)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # candidate id -> candidate
    seen: set[str] = field(default_factory=set)
    invalid: dict[str, dict] = field(default_factory=dict)  # candidate id -> problem, candidate (never run)

    @property
    def metric_calls(self) -> int:
        return len(self.ledger)

    def run_config(self, candidate: dict[str, str], incident: str, run_id: str) -> RunConfig:
        fault, seed = parse_incident(incident)
        return RunConfig(scenario=fault, training_data=self.training_data, mode="optimized",
                         blind=seed is not None, variant_seed=seed, soak_s=self.soak_s,
                         strategy_source="optimizer", strategy_text=candidate[COMPONENT],
                         skill_overrides=skill_overrides(candidate) or None, trace_log=self.trace_log,
                         run_id=run_id, verify_interval_s=self.verify_interval_s,
                         max_iterations=self.max_iterations, verbose=self.verbose)

    def evaluate(self, candidate: dict[str, str] | str, incident: str, *, phase: str = "search") -> Evaluation:
        from openhands_driver.runner import run_incident
        from openhands_driver.trace import trace_row

        if isinstance(candidate, str):
            candidate = {COMPONENT: candidate}
        cid = candidate_id(candidate)
        self.texts.setdefault(cid, dict(candidate))
        self.seen.add(cid)
        ledger = self.ledger if phase == "search" else self.validation
        seq = len(ledger) + 1
        tag = "opt" if phase == "search" else "val"
        safe = incident.replace("@", "-s")
        config = self.run_config(candidate, incident, f"{tag}-{self.session}-{seq:03d}-{cid[:6]}-{safe}")
        started = time.monotonic()
        result = run_incident(config, console=(self.console or sys.stderr) if self.verbose else _Sink())
        if result.status == "interrupted":
            raise KeyboardInterrupt(f"interrupted during run {result.run_id}")
        row = trace_row(result)
        score = score_row(row, self.max_iterations)
        attribution = attribute(row, self.catalog)
        if phase == "search":  # held-out runs never teach the proposer
            self.evidence.add(attribution)
        evaluation = Evaluation(seq, cid, config.scenario or "", result.run_id, score, attribution,
                                feedback(attribution, score.value, score.max_risk, score.status,
                                         (row.get("security") or {}).get("violations")),
                                round(time.monotonic() - started, 3),
                                tuple(f"{a['tool']}: {a['command']}" for a in row["actions"]),
                                incident=incident, phase=phase)
        ledger.append(evaluation)
        budget = f"/{self.budget}" if self.budget and phase == "search" else ""
        verdict = (f"resolved in {score.steps} steps" if score.fixed
                   else f"NOT resolved ({attribution.kind or score.status})")
        print(f"[optimize] {phase} run {seq}{budget}: {incident} with candidate {cid[:6]}: {verdict}, "
              f"score {score.value:.3f} ({evaluation.duration_s}s, {result.run_id})",
              file=self.console or sys.stderr, flush=True)
        return evaluation

    def measured(self, cid: str, incident: str) -> Evaluation | None:
        """The search's earlier evaluation of this candidate on this incident, if any."""
        return next((e for e in self.ledger if e.candidate_id == cid and e.incident == incident), None)

    def evaluate_all(self, candidate: dict[str, str] | str, incidents: list[str], *,
                     phase: str = "search") -> list[Evaluation]:
        return [self.evaluate(candidate, incident, phase=phase) for incident in incidents]

    def for_candidate(self, cid: str, phase: str = "search") -> list[Evaluation]:
        return [e for e in (self.ledger if phase == "search" else self.validation) if e.candidate_id == cid]
